"""The wallet's errors: subclasses of :class:`agent.errors.HealthMyDataError`, codes in
:class:`agent.errors.ErrorCode` (the ``# Wallet`` block).

::

    HealthMyDataError
    └── WalletError
        ├── DuplicateCredentialError    walletDuplicateCredential
        ├── CredentialNotFoundError     walletCredentialNotFound
        ├── CredentialImportError       walletUnsupportedFormat, walletIssuerKeyNotFound
        ├── PresentationQueryError      presentationQueryInvalid, presentationNoMatch
        ├── ConsentError                consentNotFound, consentNotActive, consentReceiptMismatch
        ├── BackupError                 backupWrongPhrase, backupCorrupt, backupTargetNotEmpty
        └── CredentialStatusError       credentialRevoked, credentialSuspended

Signature failures on import are the agent's own errors (:class:`agent.errors.SignatureError`,
:class:`agent.errors.ProofError`, ...), raised as they are. Messages and details name
identifiers, formats and paths, never a claim value: a wallet holds health data.
"""

from __future__ import annotations

from agent.errors import ErrorCode, HealthMyDataError

__all__ = [
    "BackupError",
    "ConsentError",
    "CredentialImportError",
    "CredentialNotFoundError",
    "CredentialStatusError",
    "DuplicateCredentialError",
    "PresentationQueryError",
    "WalletError",
]


class WalletError(HealthMyDataError):
    """Anything the citizen's wallet refuses."""

    default_code = ErrorCode.INVALID_INPUT


class DuplicateCredentialError(WalletError):
    """The credential is stored already: the same id, or the very same content."""

    default_code = ErrorCode.WALLET_DUPLICATE_CREDENTIAL


class CredentialNotFoundError(WalletError):
    """No credential with this id in this wallet (profile)."""

    default_code = ErrorCode.WALLET_CREDENTIAL_NOT_FOUND


class CredentialImportError(WalletError):
    """The input is none of the formats the wallet keeps, or its issuer key cannot be found."""

    default_code = ErrorCode.WALLET_UNSUPPORTED_FORMAT


class PresentationQueryError(WalletError):
    """A DCQL query is malformed, or no stored credential answers it."""

    default_code = ErrorCode.PRESENTATION_QUERY_INVALID


class ConsentError(WalletError):
    """A consent record is missing, no longer active, or a receipt does not fit it."""

    default_code = ErrorCode.CONSENT_NOT_FOUND


class BackupError(WalletError):
    """A backup cannot be restored: wrong recovery phrase, truncated or altered data, or a
    target store that already holds a wallet. Nothing was written."""

    default_code = ErrorCode.BACKUP_CORRUPT


class CredentialStatusError(WalletError):
    """The issuer has revoked or suspended a credential the citizen wants to use (an emergency
    card): ``credentialRevoked`` or ``credentialSuspended``."""

    default_code = ErrorCode.CREDENTIAL_REVOKED
