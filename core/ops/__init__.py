"""Operations: jobs, the audit log and disk use."""
