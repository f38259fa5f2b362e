"""Jobs, errors and audit entries as a profile may see them: which jobs it may see and
act on, the recorded call a retry makes again, the errors about its datasets, its own
audit entries."""

from __future__ import annotations

import json

from core import access
from core.api import is_retryable
from core.errors import Hint, LakehouseError, NotFound
from core.models import ErrorEvent, JobInfo
from core.ops.since import parse_since


def retry_call(catalog, job: JobInfo) -> dict:
    """The facade call ({method, kwargs}) that started a failed, cancelled or interrupted
    job, or the sentence saying why it cannot be made again."""
    if job.status == "running":
        raise LakehouseError(f"job {job.id} is still running",
                             hint=Hint("wait for it, or stop it first", "cancel_job", {"job_id": job.id}))
    if job.status == "succeeded":
        raise LakehouseError(f"job {job.id} ({job.kind} of {job.target}) succeeded — there is nothing to retry")
    params = catalog.jobs.params(job.id)
    call = json.loads(params) if params else None
    if not call or not is_retryable(call.get("method")):  # only operations declared retryable
        raise LakehouseError(f"job {job.id} ({job.kind} of {job.target}) has no recorded call to retry "
                             "(it started before retries were recorded) — run its command again")
    return call


class OpsDesk:
    """The facade's jobs, errors and audit entries, for its current reader (`profile()`)
    and its holder (`principal`, who may act only on its own jobs when restricted)."""

    def __init__(self, jobs, catalog, audit_log, profile, principal):
        self.jobs, self.catalog, self.audit_log = jobs, catalog, audit_log
        self.profile, self.principal = profile, principal

    def list(self, limit: int) -> list[JobInfo]:
        return access.jobs(self.profile(), self.catalog, self.jobs.list(limit))

    def get(self, job_id: str) -> JobInfo:
        job = self.jobs.get(job_id)
        if job is None or not access.jobs(self.profile(), self.catalog, [job]):
            raise NotFound(f"no job with id {job_id!r}", hint=Hint("{the job list} lists them", "jobs"))
        return job

    def owned(self, job_id: str, verb: str) -> JobInfo:
        """A job this profile may act on: one it sees, and — for a restricted profile —
        one it started itself."""
        job = self.get(job_id)
        access.check_job_owner(self.principal, self.catalog.jobs.profile(job_id), job_id, verb)
        return job

    def cancel(self, job_id: str) -> bool:
        self.owned(job_id, "cancel")
        return self.jobs.cancel(job_id)

    def retry_call(self, job_id: str) -> dict:
        return retry_call(self.catalog, self.owned(job_id, "retry"))

    def errors(self, since: str | None, limit: int | None) -> list[ErrorEvent]:
        errs = self.catalog.errors.recent(parse_since(since) if since else None, limit)
        return access.errors(self.profile(), errs)

    def audit(self, profile: str | None, since: str | None, limit: int) -> list[dict]:
        """Audit entries, newest first (a profile other than default sees only its own)."""
        self.audit_log.flush()
        return self.catalog.audit.recent(access.audit_profile(self.profile(), profile),
                                         parse_since(since) if since else None, limit)
