from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from imagegen.signing import UrlSigner


def parts(url: str) -> tuple[str, str, str]:
    split = urlsplit(url)
    query = parse_qs(split.query)
    return split.path.removeprefix("/files/"), query["expires"][0], query["signature"][0]


def test_a_signed_url_verifies_until_it_expires():
    now = [1_000_000.0]
    signer = UrlSigner("secret", "http://api", 60, clock=lambda: now[0])
    key, expires, signature = parts(signer.sign("t/generated/2026/01/01/img.png"))

    assert signer.verify(key, expires, signature)
    now[0] += 61
    assert not signer.verify(key, expires, signature)


def test_a_signature_is_bound_to_its_key_expiry_and_secret():
    signer = UrlSigner("secret", "http://api", 60)
    key, expires, signature = parts(signer.sign("t/a.png"))

    assert not signer.verify("t/b.png", expires, signature)
    assert not signer.verify(key, str(int(expires) + 1), signature)
    assert not signer.verify(key, "not-a-number", signature)
    assert not UrlSigner("other", "http://api", 60).verify(key, expires, signature)
