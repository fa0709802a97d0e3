"""Encrypted backup and restore of a whole wallet: credentials, holder keys, consent history.

Key from a recovery phrase
    :func:`generate_recovery_phrase` gives 30 random Crockford base32 characters (150 bits)
    and 2 check characters, in 8 groups of 4 (``7QK2-...``). No BIP-39 word list is installed
    (``mnemonic`` is not in the lock) and shipping one by hand is an error-prone copy; a
    base32 code is as strong, is read aloud and typed without ambiguity (Crockford maps
    ``O`` to ``0`` and ``I``/``L`` to ``1``, case and hyphens are ignored), and its check
    characters catch a typo before the slow key derivation. The key is Argon2id
    (``cryptography``'s RFC 9106 implementation) over the 30 characters, with a random 16-byte
    salt per backup; 150 bits would resist guessing without it, Argon2id is defence in depth.

Cipher
    ChaCha20-Poly1305 (RFC 8439, ``cryptography``). The brief suggested XChaCha20-Poly1305
    from PyNaCl, but ``tests/test_layering.py`` confines ``nacl`` to two agent modules; the
    192-bit nonce of XChaCha only matters when one key encrypts many messages under random
    nonces, and here every backup derives a fresh key from a fresh salt, so a random 96-bit
    nonce is as safe. The header names the cipher, so another can be added as a new id.

Format (version 1), all integers big-endian::

    0   8  magic  b"HMDWBAK\\0"
    8   1  version            1
    9   1  kdf                1 = Argon2id
    10  4  memory (KiB)
    14  4  iterations
    18  1  lanes
    19 16  salt
    35  1  aead               1 = ChaCha20-Poly1305
    36 12  nonce
    48 16  key check          bytes 32..47 of the 64-byte Argon2id output (0..31 is the key)
    64 16  header digest      SHA-256 of bytes 0..63, first 16 bytes
    80  .  ciphertext || tag  of zlib(JSON), the whole 80-byte header as associated data

The header digest catches accidental damage to the header (``backupCorrupt``) before the key
derivation; the key check then tells a wrong phrase (``backupWrongPhrase``) from altered data
without trying to decrypt; the AEAD tag authenticates the header, so any changed byte anywhere
is refused (someone who alters the header on purpose and recomputes the digest gets a
"wrong phrase" or "corrupt" refusal, never a restore). KDF parameters read from a header are
bounded, so an altered header cannot make restore allocate gigabytes.

Key export
    Holder keys are read with askar's ``Key.get_secret_bytes()`` through the ``KeyEntry``
    handles of :mod:`agent.storage` here and nowhere else, put into the plaintext and encrypted
    at once; they are re-imported with :meth:`agent.keys.AskarKeyStore.import_secret`. Python
    cannot wipe the bytes from memory afterwards; the plaintext lives only inside
    :func:`backup` and :func:`restore`.

Restore writes nothing until the backup is fully decrypted and checked and the target profile
is found empty. Keys are imported first, then every record in one transaction; if that fails,
the imported keys are removed again.
"""

from __future__ import annotations

import base64
import contextlib
import errno
import hashlib
import hmac
import json
import os
import secrets
import struct
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

from agent.clock import format_datetime
from agent.errors import ErrorCode, HealthMyDataError
from agent.keys import AskarKeyStore, KeyType, decode_multikey
from agent.keys.askar import BINDING_CATEGORY
from agent.storage import Store
from wallet.consent import CONSENT_CATEGORY, LOG_CATEGORY
from wallet.errors import BackupError
from wallet.holder import CREDENTIAL_CATEGORY, IDENTITY, Wallet
from wallet.index import mark_changed
from wallet.search import META_CATEGORY, WORDS_CATEGORY

__all__ = [
    "BACKUP_CATEGORIES",
    "DEFAULT_KDF",
    "KdfParams",
    "RestoreSummary",
    "backup",
    "generate_recovery_phrase",
    "normalise_recovery_phrase",
    "profile_is_empty",
    "restore",
    "write_backup_file",
]

MAGIC: Final = b"HMDWBAK\x00"
VERSION: Final = 1
_KDF_ARGON2ID: Final = 1
_AEAD_CHACHA20_POLY1305: Final = 1
_HEADER: Final = struct.Struct(">8sBBIIB16sB12s16s")
_DIGEST_SIZE: Final = 16
HEADER_SIZE: Final = _HEADER.size + _DIGEST_SIZE  # 80
_TAG_SIZE: Final = 16
_MAX_PLAINTEXT: Final = 512 * 1024 * 1024

#: Every record category a wallet keeps; all are backed up.
BACKUP_CATEGORIES: Final = (
    IDENTITY[0],
    BINDING_CATEGORY,
    CREDENTIAL_CATEGORY,
    META_CATEGORY,
    WORDS_CATEGORY,
    CONSENT_CATEGORY,
    LOG_CATEGORY,
    "consent-head",
)
_RESERVED_KEY_TAGS: Final = frozenset({"keyType", "retired"})

_ALPHABET: Final = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32
_BODY_CHARS: Final = 30
_CHECK_CHARS: Final = 2
_CONFUSABLE: Final = str.maketrans({"O": "0", "I": "1", "L": "1"})


@dataclass(frozen=True, slots=True)
class KdfParams:
    """Argon2id cost: ``memory_kib`` KiB, ``iterations`` passes, ``lanes`` parallelism."""

    memory_kib: int = 64 * 1024
    iterations: int = 3
    lanes: int = 4

    def check(self) -> None:
        if not (8 * 1024 <= self.memory_kib <= 1024 * 1024):
            raise _corrupt("the backup's KDF memory is outside 8 MiB..1 GiB")
        if not (1 <= self.iterations <= 16) or not (1 <= self.lanes <= 16):
            raise _corrupt("the backup's KDF iterations or lanes are outside 1..16")


#: The default cost: 64 MiB, 3 passes, 4 lanes (RFC 9106's second recommended option uses
#: 64 MiB and 3 passes).
DEFAULT_KDF: Final = KdfParams()


@dataclass(frozen=True, slots=True)
class RestoreSummary:
    """What a restore brought back."""

    credentials: int
    consents: int
    history_entries: int
    keys: int
    records: int
    holder_did: str | None


def _corrupt(message: str) -> BackupError:
    return BackupError(
        message + "; the file was truncated or altered, restore from an intact copy",
        code=ErrorCode.BACKUP_CORRUPT,
    )


def _wrong_phrase(reason: str) -> BackupError:
    return BackupError(
        "the recovery phrase does not open this backup; check it character by character",
        code=ErrorCode.BACKUP_WRONG_PHRASE,
        details={"reason": reason},
    )


#: What a recovery phrase looks like, for the message refusing one that does not.
_FORMAT = "XXXX-XXXX-XXXX-XXXX-XXXX-XXXX-XXXX-XXXX"


def _malformed_phrase(mistyped: bool) -> BackupError:
    """A phrase refused before any backup is read or written: it is not the format, or its
    check characters say it was mistyped (not "does not open this backup": nothing was
    opened, and ``wallet backup`` opens nothing at all)."""
    message = (
        "the recovery phrase has a typing mistake (its last two characters, a check of the "
        "others, do not match); check it character by character"
        if mistyped
        else f"that is not a recovery phrase: one is 32 letters and digits in groups of 4, "
        f"{_FORMAT} (give none to 'wallet backup' to have one made)"
    )
    return BackupError(
        message,
        code=ErrorCode.BACKUP_WRONG_PHRASE,
        details={"reason": "malformed", "format": _FORMAT},
    )


def _check_chars(body: str) -> str:
    bits = int.from_bytes(hashlib.sha256(body.encode("ascii")).digest()[:2], "big") >> 6
    return _ALPHABET[bits >> 5] + _ALPHABET[bits & 31]


def generate_recovery_phrase() -> str:
    """A new recovery phrase: 150 random bits as 30 base32 characters plus 2 check
    characters, in groups of 4 (``XXXX-XXXX-...``). Show it once; the wallet does not keep it."""
    body = "".join(secrets.choice(_ALPHABET) for _ in range(_BODY_CHARS))
    text = body + _check_chars(body)
    return "-".join(text[i : i + 4] for i in range(0, len(text), 4))


def normalise_recovery_phrase(phrase: str) -> str:
    """The 30 secret characters of a phrase as typed (any case, spaces or hyphens, ``O``/
    ``I``/``L`` for ``0``/``1``).

    :raises BackupError: ``backupWrongPhrase`` (``reason`` ``malformed``) for a wrong length,
        a character outside the alphabet or wrong check characters.
    """
    text = "".join(phrase.split()).replace("-", "").upper().translate(_CONFUSABLE)
    if len(text) != _BODY_CHARS + _CHECK_CHARS or not set(text) <= set(_ALPHABET):
        raise _malformed_phrase(mistyped=False)
    body, check = text[:_BODY_CHARS], text[_BODY_CHARS:]
    if not hmac.compare_digest(_check_chars(body), check):
        raise _malformed_phrase(mistyped=True)
    return body


def _derive(body: str, salt: bytes, params: KdfParams) -> tuple[bytes, bytes]:
    output = Argon2id(
        salt=salt,
        length=64,
        iterations=params.iterations,
        lanes=params.lanes,
        memory_cost=params.memory_kib,
    ).derive(body.encode("ascii"))
    return output[:32], output[32:48]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


async def backup(wallet: Wallet, phrase: str, *, kdf: KdfParams = DEFAULT_KDF) -> bytes:
    """Everything in the wallet's profile, encrypted under ``phrase`` (see the module
    docstring for the format).

    :raises BackupError: ``backupWrongPhrase`` for a malformed phrase.
    """
    body = normalise_recovery_phrase(phrase)
    kdf.check()
    await wallet.holder_did()  # a backup always carries the holder keys
    records: list[dict[str, Any]] = []
    keys: list[dict[str, Any]] = []
    async with wallet.store.session(wallet.profile) as session:
        for category in BACKUP_CATEGORIES:
            for record in await session.fetch_all(category, order_by="id"):
                records.append(
                    {
                        "category": record.category,
                        "name": record.name,
                        "value": _b64(record.value),
                        "tags": record.tags,
                    }
                )
        for entry in await session.fetch_all_keys():
            keys.append(
                {
                    "name": entry.name,
                    "secret": _b64(bytes(entry.key.get_secret_bytes())),
                    "tags": entry.tags,
                    "metadata": entry.metadata,
                }
            )
    plaintext = zlib.compress(
        json.dumps(
            {
                "format": "health-mydata-wallet-backup",
                "version": VERSION,
                "created": format_datetime(wallet.clock()),
                "records": records,
                "keys": keys,
            },
            separators=(",", ":"),
        ).encode("utf-8")
    )
    salt = secrets.token_bytes(16)
    nonce = secrets.token_bytes(12)
    key, check = _derive(body, salt, kdf)
    header = _HEADER.pack(
        MAGIC,
        VERSION,
        _KDF_ARGON2ID,
        kdf.memory_kib,
        kdf.iterations,
        kdf.lanes,
        salt,
        _AEAD_CHACHA20_POLY1305,
        nonce,
        check,
    )
    header += hashlib.sha256(header).digest()[:_DIGEST_SIZE]
    return header + ChaCha20Poly1305(key).encrypt(nonce, plaintext, header)


#: ``os.link`` errors of a file system without hard links: the backup is then renamed into
#: place after a check that nothing is there (:func:`write_backup_file`).
_NO_HARD_LINKS: Final = frozenset(
    {errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EMLINK, errno.ENOSYS}
)


def write_backup_file(path: str | os.PathLike[str], data: bytes, *, replace: bool = False) -> None:
    """Write a backup to ``path`` atomically and readable by its owner only (0600).

    The bytes go to a temporary file beside ``path`` (created 0600 by :func:`tempfile.mkstemp`,
    flushed to disk) that then takes ``path``'s name in one step: nobody ever reads a partial
    backup, and a failure (disk full, interrupted) leaves whatever was at ``path`` as it was and
    no temporary file behind.

    :param replace: replace a file at ``path``. Without it an existing ``path`` is refused, also
        when one appears meanwhile (it is never overwritten): each backup has a phrase of its
        own, so the one there, and what its phrase restores, would be lost.
    :raises FileExistsError: ``path`` exists and ``replace`` is false; nothing was written.
    :raises OSError: as the file system says (no such folder, not writable, ``path`` a folder).
    """
    target = Path(path)
    descriptor, temporary = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=".tmp", dir=target.parent
    )
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if replace:
            os.replace(temporary, target)
        else:
            try:
                os.link(temporary, target)  # EEXIST when anything is there: never replaced
            except OSError as exc:
                if exc.errno not in _NO_HARD_LINKS:
                    raise
                if os.path.lexists(target):
                    raise FileExistsError(errno.EEXIST, "File exists", str(target)) from None
                os.rename(temporary, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
    _sync_folder(target.parent)


def _sync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable (best effort: not every system opens folders)."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _decrypt(data: bytes, phrase: str) -> dict[str, Any]:
    if not isinstance(data, bytes | bytearray) or len(data) < HEADER_SIZE + _TAG_SIZE:
        raise _corrupt("the backup is shorter than its header")
    header = bytes(data[:HEADER_SIZE])
    fields, digest = header[: _HEADER.size], header[_HEADER.size :]
    magic, version, kdf_id, memory, iterations, lanes, salt, aead_id, nonce, check = _HEADER.unpack(
        fields
    )
    if magic != MAGIC:
        raise _corrupt("this is not a health-mydata wallet backup")
    if version != VERSION or kdf_id != _KDF_ARGON2ID or aead_id != _AEAD_CHACHA20_POLY1305:
        raise _corrupt("the backup names a version, KDF or cipher this wallet does not know")
    if not hmac.compare_digest(hashlib.sha256(fields).digest()[:_DIGEST_SIZE], digest):
        raise _corrupt("the backup header is damaged")
    params = KdfParams(memory, iterations, lanes)
    params.check()
    body = normalise_recovery_phrase(phrase)
    key, expected = _derive(body, salt, params)
    if not hmac.compare_digest(check, expected):
        raise _wrong_phrase("mismatch")
    try:
        compressed = ChaCha20Poly1305(key).decrypt(nonce, bytes(data[HEADER_SIZE:]), header)
    except InvalidTag:
        raise _corrupt("the backup does not authenticate") from None
    inflater = zlib.decompressobj()
    try:
        plaintext = inflater.decompress(compressed, _MAX_PLAINTEXT)
        content = json.loads(plaintext)
    except (zlib.error, ValueError):
        raise _corrupt("the backup content does not decode") from None
    if not isinstance(content, dict) or content.get("format") != "health-mydata-wallet-backup":
        raise _corrupt("the backup content is not a wallet backup")
    return content


def _strings(value: object) -> bool:
    return isinstance(value, dict) and all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    )


_Records = list[tuple[str, str, bytes, dict[str, str]]]
_Keys = list[tuple[KeyType, bytes, dict[str, str], bool]]


def _checked(content: dict[str, Any]) -> tuple[_Records, _Keys]:
    records = content.get("records")
    keys = content.get("keys")
    if not isinstance(records, list) or not isinstance(keys, list):
        raise _corrupt("the backup lacks records or keys")
    out_records: _Records = []
    try:
        for item in records:
            if (
                item["category"] not in BACKUP_CATEGORIES
                or not isinstance(item["name"], str)
                or not _strings(item["tags"])
            ):
                raise ValueError("record")
            value = base64.b64decode(item["value"], validate=True)
            out_records.append((str(item["category"]), item["name"], value, dict(item["tags"])))
        out_keys: _Keys = []
        for item in keys:
            key_type, _ = decode_multikey(item["name"])
            secret = base64.b64decode(item["secret"], validate=True)
            if key_type not in (KeyType.ED25519_PUB, KeyType.X25519_PUB, KeyType.P256_PUB):
                raise ValueError("key type")
            if len(secret) != 32 or not _strings(item["tags"]):
                raise ValueError("key")
            tags = {k: v for k, v in item["tags"].items() if k not in _RESERVED_KEY_TAGS}
            out_keys.append((key_type, secret, tags, item["tags"].get("retired") == "true"))
    except (KeyError, TypeError, ValueError, HealthMyDataError):
        raise _corrupt("the backup content is malformed") from None
    return out_records, out_keys


async def profile_is_empty(store: Store, profile: str | None) -> bool:
    """Whether ``profile`` of ``store`` holds nothing a wallet keeps: what :func:`restore` needs."""
    async with store.session(profile) as session:
        for category in BACKUP_CATEGORIES:
            if await session.count(category):
                return False
        return not await session.fetch_all_keys(limit=1)


async def restore(
    data: bytes, phrase: str, *, into: Store, profile: str | None = None
) -> RestoreSummary:
    """Restore a :func:`backup` into an empty wallet profile of ``into``.

    :param profile: the target profile; default the store's.
    :raises BackupError: ``backupWrongPhrase``, ``backupCorrupt`` (truncated, altered, not a
        backup), ``backupTargetNotEmpty``; in every case nothing was written.
    """
    records, keys = _checked(_decrypt(data, phrase))
    target = profile if profile is not None else into.profile
    if not await profile_is_empty(into, target):
        raise BackupError(
            "the target profile holds a wallet already; restore into a new store or profile",
            code=ErrorCode.BACKUP_TARGET_NOT_EMPTY,
        )
    keystore = AskarKeyStore(into, profile=target)
    # Keys and records in one transaction: a crash or an error leaves the whole wallet or
    # nothing, so a restore can always be run again.
    async with into.transaction(target) as txn:
        await keystore.import_secrets_in(txn, keys)
        for category, name, value, tags in records:
            await txn.insert(category, name, value, tags)
        await mark_changed(txn)  # a search index open on this profile is rebuilt
        await txn.commit()
    holder = None
    for category, name, value, _ in records:
        if (category, name) == IDENTITY:
            holder = json.loads(value).get("holderDid")
    counts = {c: sum(1 for r in records if r[0] == c) for c in BACKUP_CATEGORIES}
    return RestoreSummary(
        credentials=counts[CREDENTIAL_CATEGORY],
        consents=counts[CONSENT_CATEGORY],
        history_entries=counts[LOG_CATEGORY],
        keys=len(keys),
        records=len(records),
        holder_did=holder,
    )
