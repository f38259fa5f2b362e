"""Living data: watched folders and schedules that keep datasets current (issue 18)."""
