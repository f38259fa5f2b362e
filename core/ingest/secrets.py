"""PostgreSQL URLs and passwords: what may be stored and shown, and how to connect.

A password written into the URL is used for that connection only and never stored: the
URL is redacted (`postgresql://user:***@host/db`, `password=***`) wherever it lands —
results, lineage, the Delta commit, jobs (the call `jobs retry` makes again), `_errors`.
A redacted URL given back (a retried job) connects without that password, so the
other sources apply: the `[postgres] secrets_file` (a 0600 TOML file: a password per
`user@host[:port]/db`), then libpq's own PGPASSWORD and ~/.pgpass (PGPASSFILE).
"""

from __future__ import annotations

import getpass
import os
import re
import stat
import tomllib
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

from core.errors import IngestError

MASK = "***"
_SECRET_PARAMS = ("password", "sslpassword")


@dataclass
class Target:
    """Where a URL points: what a secrets-file entry and a message name."""

    user: str
    host: str
    port: int
    db: str

    def key(self, with_port: bool = True) -> str:
        return f"{self.user}@{self.host}" + (f":{self.port}" if with_port else "") + f"/{self.db}"

    def __str__(self) -> str:
        return f"{self.host}:{self.port}/{self.db}"


def _split(url: str):
    try:
        parts = urlsplit(url)  # (its port is libpq's to read: a URL may name several host:port)
    except ValueError as e:
        raise IngestError(f"{redact(url, safe=True)} is not a PostgreSQL URL ({e}) — write "
                          "postgresql://USER@HOST[:PORT]/DB") from None
    return parts


def redact(url: str, safe: bool = False) -> str:
    """The URL with any password replaced by ***. `safe`: never raises (a URL that does
    not parse loses everything between :// and @, and every password= value)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        if not safe:
            raise
        return re.sub(r"(password=)[^&\s]*", r"\1" + MASK, re.sub(r"(://[^:/@]*):[^@]*@", r"\1:" + MASK + "@", url))
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, hosts = netloc.rpartition("@")
        user, colon, _pw = userinfo.partition(":")
        netloc = f"{user}:{MASK}@{hosts}" if colon else f"{user}@{hosts}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(k in _SECRET_PARAMS for k, _ in pairs):
            query = urlencode([(k, MASK if k in _SECRET_PARAMS else v) for k, v in pairs], safe="*/:")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def url_password(url: str) -> str | None:
    """The password written into the URL (None when none, or when it is the mask of a
    redacted URL given back, e.g. by a retried job)."""
    parts = _split(url)
    pw = unquote(parts.password) if parts.password is not None else None
    for k, v in parse_qsl(parts.query, keep_blank_values=True):
        if k == "password":
            pw = v
    return None if pw in (None, "", MASK) else pw


def without_password(url: str) -> str:
    """The URL to hand libpq, minus any password (given to it separately)."""
    parts = _split(url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, hosts = netloc.rpartition("@")
        netloc = f"{userinfo.partition(':')[0]}@{hosts}"
    pairs = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "password"
             and not (k == "sslpassword" and v == MASK)]
    return urlunsplit((parts.scheme, netloc, parts.path, urlencode(pairs), parts.fragment))


def target(url: str) -> Target:
    """user, host, port and database as libpq resolves them (its defaults for missing parts)."""
    from psycopg.conninfo import conninfo_to_dict

    try:
        info = conninfo_to_dict(without_password(url))
    except Exception as e:
        raise IngestError(f"{redact(url, safe=True)} is not a PostgreSQL URL ({_first(e)}) — write "
                          "postgresql://USER@HOST[:PORT]/DB") from None
    user = str(info.get("user") or os.environ.get("PGUSER") or _os_user())
    host = str(info.get("host") or os.environ.get("PGHOST") or "localhost")
    try:
        port = int(str(info.get("port") or os.environ.get("PGPORT") or 5432).split(",")[0])
    except ValueError:
        raise IngestError(f"{redact(url)}: the port is not a number") from None
    db = str(info.get("dbname") or os.environ.get("PGDATABASE") or user)
    return Target(user, host, port, db)


def secrets_password(path: str, where: Target) -> str | None:
    """The password for `where` in the secrets file at `path` (None: no file set, or no
    entry). The file must be readable by its owner only; a bad file is one sentence."""
    if not path:
        return None
    p = Path(path).expanduser()
    try:
        st = p.stat()
    except FileNotFoundError:
        raise IngestError(f"the postgres secrets file {p} (postgres.secrets_file) does not exist — "
                          "create it (chmod 600) or unset the key") from None
    except OSError as e:
        raise IngestError(f"the postgres secrets file {p} cannot be read ({e.strerror})") from None
    if st.st_mode & 0o077:
        raise IngestError(f"the postgres secrets file {p} can be read by others (mode "
                          f"{stat.S_IMODE(st.st_mode):04o}) — run `chmod 600 {p}`; it was not read")
    try:
        doc = tomllib.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise IngestError(f"the postgres secrets file {p} is not TOML ({_first(e)}) — write e.g. "
                          '[passwords] then "user@host:5432/db" = "…"') from None
    table = doc.get("passwords", doc)
    for key in (where.key(True), where.key(False)):
        value = table.get(key) if isinstance(table, dict) else None
        if isinstance(value, str):
            return value
    return None


def scrub(text: str, url: str, password: str | None) -> str:
    """A message with the URL redacted and the password itself gone, wherever it appears."""
    out = text.replace(url, redact(url, safe=True)) if url else text
    for pw in filter(None, (password, url_password_safe(url))):
        out = out.replace(pw, MASK)
        out = out.replace(quote(pw, safe=""), MASK)
    return out


def url_password_safe(url: str) -> str | None:
    try:
        return url_password(url)
    except IngestError:
        return None


def _os_user() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return ""


def _first(e: BaseException) -> str:
    s = str(e).strip()
    return s.splitlines()[0] if s else type(e).__name__
