"""Citizen wallet: receive, keep, find, present with consent, back up and restore.

- :mod:`wallet.holder`: :func:`open_wallet`, :class:`Wallet` (holder keys, import of W3C VC,
  SD-JWT VC and SMART Health Cards, get/list/remove/search), :class:`StoredCredential`.
- :mod:`wallet.search`: the search tags and WQL filters (what is encrypted, what is not).
- :mod:`wallet.query`: DCQL (OpenID4VP 1.0) queries, parsed strictly.
- :mod:`wallet.present`: :func:`plan_presentation` (what goes to whom, for what) and
  :func:`present` (SD-JWT+KB or W3C VP, and a consent record).
- :mod:`wallet.consent`: signed consent records, withdrawal notices, deletion receipts.
- :mod:`wallet.backup`: recovery phrase, encrypted backup, restore.
- :mod:`wallet.shc`: SMART Health Card decoding and ES256 verification.
"""

from wallet.backup import (
    BACKUP_CATEGORIES,
    DEFAULT_KDF,
    KdfParams,
    RestoreSummary,
    backup,
    generate_recovery_phrase,
    normalise_recovery_phrase,
    restore,
)
from wallet.consent import (
    CONSENT_CATEGORY,
    LOG_CATEGORY,
    ConsentRecord,
    ConsentStatus,
    HistoryEntry,
    consent_history,
    get_consent,
    list_consents,
    record_consent,
    record_receipt,
    verify_consent,
    verify_history,
    withdraw,
)
from wallet.errors import (
    BackupError,
    ConsentError,
    CredentialImportError,
    CredentialNotFoundError,
    DuplicateCredentialError,
    PresentationQueryError,
    WalletError,
)
from wallet.holder import (
    CREDENTIAL_CATEGORY,
    CredentialFormat,
    StoredCredential,
    Wallet,
    open_wallet,
)
from wallet.plan import PlannedCredential, PresentationPlan, Recipient
from wallet.present import Presentation, plan_presentation, present
from wallet.query import (
    FORMATS,
    ClaimQuery,
    CredentialQuery,
    CredentialSetQuery,
    DcqlQuery,
    parse_dcql,
    pointer,
    select,
)
from wallet.search import (
    META_CATEGORY,
    WORDS_CATEGORY,
    Filters,
    build_filter,
    credential_tags,
    day_tag,
    word_tags,
)

__all__ = [
    "BACKUP_CATEGORIES",
    "CONSENT_CATEGORY",
    "CREDENTIAL_CATEGORY",
    "DEFAULT_KDF",
    "FORMATS",
    "LOG_CATEGORY",
    "META_CATEGORY",
    "WORDS_CATEGORY",
    "BackupError",
    "ClaimQuery",
    "ConsentError",
    "ConsentRecord",
    "ConsentStatus",
    "CredentialFormat",
    "CredentialImportError",
    "CredentialNotFoundError",
    "CredentialQuery",
    "CredentialSetQuery",
    "DcqlQuery",
    "DuplicateCredentialError",
    "Filters",
    "HistoryEntry",
    "KdfParams",
    "PlannedCredential",
    "Presentation",
    "PresentationPlan",
    "PresentationQueryError",
    "Recipient",
    "RestoreSummary",
    "StoredCredential",
    "Wallet",
    "WalletError",
    "backup",
    "build_filter",
    "consent_history",
    "credential_tags",
    "day_tag",
    "generate_recovery_phrase",
    "get_consent",
    "list_consents",
    "normalise_recovery_phrase",
    "open_wallet",
    "parse_dcql",
    "plan_presentation",
    "pointer",
    "present",
    "record_consent",
    "record_receipt",
    "restore",
    "select",
    "verify_consent",
    "verify_history",
    "withdraw",
    "word_tags",
]
