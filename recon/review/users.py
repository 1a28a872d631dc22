"""Who may sign in to the review page, and what each role may do.

Users come from a TOML file (`--users`, RECON_REVIEW_USERS, default `<warehouse>.review-users.toml`):

    [users.ann]
    role = "reviewer"                  # reviewer, approver or admin
    name = "Ann Lee"                   # optional, shown on the page
    password_hash = "$argon2id$v=19$..."   # `recon review --add-user ann --role reviewer` writes it

Passwords are hashed with Argon2id (argon2-cffi); the file never holds a password. A reviewer
confirms, rejects and resolves one item at a time and undoes their own decisions; an approver
also accepts a filtered set at once and undoes anyone's; an admin may do everything.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from core.errors import UserError
from core.settings import Settings

ROLES = ("reviewer", "approver", "admin")
# role -> what it may do beyond deciding one item at a time
PERMISSIONS: dict[str, frozenset[str]] = {
    "reviewer": frozenset({"decide"}),
    "approver": frozenset({"decide", "bulk", "undo_any"}),
    "admin": frozenset({"decide", "bulk", "undo_any", "admin"}),
}
USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
MIN_PASSWORD = 10

_hasher = PasswordHasher()
# A hash to verify against when the user does not exist, so a wrong name takes as long as a wrong
# password and the sign-in page does not tell which names exist.
_DUMMY_HASH = _hasher.hash("not a password of anyone")


def default_users_path(settings: Settings) -> Path:
    """The users file beside the warehouse: `<warehouse>.review-users.toml`."""
    return settings.warehouse.with_name(settings.warehouse.name + ".review-users.toml")


@dataclass(frozen=True)
class User:
    username: str
    role: str
    name: str
    password_hash: str

    def may(self, permission: str) -> bool:
        return permission in PERMISSIONS[self.role]

    def __repr__(self) -> str:  # the hash never reaches a log
        return f"User({self.username!r}, role={self.role!r})"


def load_users(path: Path) -> dict[str, User]:
    """The users of the file at `path`; a missing file or a bad entry is a UserError that says what to do."""
    if not path.exists():
        raise UserError(
            f"No users file at {path}: create one with `recon review --add-user NAME --role reviewer` "
            "(or point --users / RECON_REVIEW_USERS at yours)."
        )
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise UserError(f"The users file {path} is not valid TOML: {error}") from None
    table = data.get("users")
    if not isinstance(table, dict) or not table:
        raise UserError(f"The users file {path} has no [users.NAME] entries.")
    users: dict[str, User] = {}
    for username, entry in table.items():
        if not isinstance(entry, dict) or not USERNAME.match(username):
            raise UserError(f"{path}: [users.{username}] is not a user (lower-case names of letters, digits, . _ -).")
        role, digest = entry.get("role"), entry.get("password_hash")
        if role not in ROLES:
            raise UserError(f"{path}: users.{username}.role must be one of {', '.join(ROLES)}, not {role!r}.")
        if not isinstance(digest, str) or not digest.startswith("$argon2"):
            raise UserError(
                f"{path}: users.{username}.password_hash must be an Argon2 hash: set it with "
                f"`recon review --add-user {username} --role {role}`."
            )
        users[username] = User(username, role, str(entry.get("name") or username), digest)
    return users


def authenticate(users: dict[str, User], username: str, password: str) -> User | None:
    """The user when the password is theirs, else None (in about the same time either way)."""
    user = users.get(username.strip().lower())
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    return user


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise UserError(f"A password has at least {MIN_PASSWORD} characters.")
    return _hasher.hash(password)


def _toml_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def add_user(path: Path, username: str, role: str, password: str, name: str | None = None) -> None:
    """Add (or replace) a user in the file at `path`, creating it (owner-only) when missing."""
    username = username.strip().lower()
    if not USERNAME.match(username):
        raise UserError(f"{username!r} is not a user name: lower-case letters, digits, . _ - (up to 64).")
    if role not in ROLES:
        raise UserError(f"A role is one of {', '.join(ROLES)}, not {role!r}.")
    digest = hash_password(password)
    existing = load_users(path) if path.exists() else {}
    existing[username] = User(username, role, name or username, digest)
    lines = [
        "# Users of the review page (recon review). Passwords are Argon2id hashes; never commit this file.",
        "",
    ]
    for user in existing.values():
        lines += [
            f"[users.{user.username}]",
            f"role = {_toml_string(user.role)}",
            f"name = {_toml_string(user.name)}",
            f"password_hash = {_toml_string(user.password_hash)}",
            "",
        ]
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text("\n".join(lines), encoding="utf-8")
    partial.chmod(0o600)
    partial.replace(path)
