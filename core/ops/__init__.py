"""Operations: jobs, the errors journal, the audit log (their catalog rows in rows.py;
what a profile may see of them in desk.py) and disk use."""
