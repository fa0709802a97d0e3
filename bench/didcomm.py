"""DIDComm authcrypt pack and unpack, against the askar primitives they are made of."""

from __future__ import annotations

import asyncio
import json
import tempfile
from pathlib import Path
from typing import Any

from aries_askar import Key, KeyAlg
from aries_askar.ecdh import Ecdh1PU

from agent.dids import DIDResolver, create_did_peer_2, didcomm_service
from agent.keys import AskarKeyStore, KeyType, decode_multikey
from agent.messaging import KeyStoreRecipientKeys, Message, pack_encrypted, unpack
from agent.storage import generate_raw_key, open_store
from bench.harness import Results, measure, measure_async

__all__ = ["run"]


async def _party(keys: AskarKeyStore, endpoint: str) -> str:
    signing = await keys.create_key(KeyType.ED25519_PUB)
    agreement = await keys.create_key(KeyType.X25519_PUB)
    did = create_did_peer_2(
        decode_multikey(signing)[1], decode_multikey(agreement)[1], [didcomm_service(endpoint)]
    )
    await keys.bind(
        agreement, did=did, verification_method=f"{did}#key-2", relationships=["keyAgreement"]
    )
    return did


def run(results: Results, *, repeats: int, min_time: float) -> None:
    message, envelope, resolver, cached, alice, bob = asyncio.run(_setup())
    _measure(results, message, envelope, resolver, cached, alice, bob, repeats, min_time)


async def _setup() -> tuple[Message, bytes, DIDResolver, Any, str, str]:
    with tempfile.TemporaryDirectory() as tmp:
        store = await open_store(Path(tmp) / "bench.sqlite", raw_key=generate_raw_key())
        keys = AskarKeyStore(store)
        alice = await _party(keys, "http://alice.test/didcomm")
        bob = await _party(keys, "http://bob.test/didcomm")
        recipient_keys = KeyStoreRecipientKeys(keys)
        resolver = DIDResolver()
        body = {"comment": "x" * 1500}  # about the size of an offer with a preview
        message = Message(
            id="m-1",
            type="https://didcomm.org/trust-ping/2.0/ping",
            body=body,
            from_=alice,
            to=(bob,),
        )
        envelope = await pack_encrypted(
            message,
            to=[f"{bob}#key-2"],
            resolver=resolver,
            frm=f"{alice}#key-2",
            sender_keys=recipient_keys,
        )
        # Cache the askar key handles the way a running agent's store session would.
        sender_key = await recipient_keys.agreement_key(f"{alice}#key-2")
        receiver_key = await recipient_keys.agreement_key(f"{bob}#key-2")

        class CachedKeys:
            async def agreement_key(self, kid: str) -> object | None:
                return {f"{alice}#key-2": sender_key, f"{bob}#key-2": receiver_key}.get(kid)

        cached = CachedKeys()
        await store.close()
    return message, envelope, resolver, cached, alice, bob


def _measure(
    results: Results,
    message: Message,
    envelope: bytes,
    resolver: DIDResolver,
    cached: Any,
    alice: str,
    bob: str,
    repeats: int,
    min_time: float,
) -> None:
    size = len(envelope)
    results.info["didcomm.envelope_bytes"] = size

    # Primitives: what authcrypt must do at the least (ECDH-1PU key wrap + AEAD), in askar.
    plaintext = json.dumps(message.to_json()).encode()
    alice_key = Key.generate(KeyAlg.X25519)
    bob_key = Key.generate(KeyAlg.X25519)
    group = "primitives (askar)"
    opts: dict[str, Any] = {"repeats": repeats, "min_time": min_time, "group": group}

    def primitive_pack() -> tuple[Any, Any, Any]:
        epk = Key.generate(KeyAlg.X25519)
        cek = Key.generate(KeyAlg.A256CBC_HS512)
        enc = cek.aead_encrypt(plaintext, aad=b"protected-header")
        wrapped = Ecdh1PU("ECDH-1PU+A256KW", b"apu", b"apv").sender_wrap_key(
            KeyAlg.A256KW, epk, alice_key, bob_key, cek, cc_tag=enc.tag
        )
        return epk, enc, wrapped

    epk, enc, wrapped = primitive_pack()

    def primitive_unpack() -> None:
        cek = Ecdh1PU("ECDH-1PU+A256KW", b"apu", b"apv").receiver_unwrap_key(
            KeyAlg.A256KW,
            KeyAlg.A256CBC_HS512,
            epk,
            alice_key,
            bob_key,
            wrapped.ciphertext,
            cc_tag=enc.tag,
        )
        cek.aead_decrypt(enc.ciphertext, nonce=enc.nonce, tag=enc.tag, aad=b"protected-header")

    results.add(
        measure("authcrypt floor: ECDH-1PU wrap + A256CBC-HS512 encrypt", primitive_pack, **opts)
    )
    results.add(
        measure(
            "authcrypt floor: ECDH-1PU unwrap + A256CBC-HS512 decrypt", primitive_unpack, **opts
        )
    )

    group = f"DIDComm authcrypt, {size}-byte envelope"
    opts = {"repeats": repeats, "min_time": min_time, "group": group}

    async def pack() -> None:
        await pack_encrypted(
            message,
            to=[f"{bob}#key-2"],
            resolver=resolver,
            frm=f"{alice}#key-2",
            sender_keys=cached,
        )

    async def unpack_once() -> None:
        await unpack(envelope, resolver=resolver, recipient_keys=cached)

    results.add(
        measure_async(
            "pack_encrypted (authcrypt)",
            pack,
            baseline="authcrypt floor: ECDH-1PU wrap + A256CBC-HS512 encrypt",
            **opts,
        )
    )
    results.add(
        measure_async(
            "unpack (authcrypt)",
            unpack_once,
            baseline="authcrypt floor: ECDH-1PU unwrap + A256CBC-HS512 decrypt",
            **opts,
        )
    )
