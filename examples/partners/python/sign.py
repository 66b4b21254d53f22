#!/usr/bin/env python3
"""Call a Sigil API from Python: sign one request with RFC 9421 (hmac-sha256) and RFC 9530
(Content-Digest), as the default Sigil server profile requires (docs/spec.md sections 1 and 2).

Standard library only, Python >= 3.9.

    SIGIL_TOKEN=sigil_sk_... python3 sign.py METHOD URL [BODY_FILE]

Prints the response status on the first line, then the response body. Exit status 0 for a
2xx/3xx answer, 1 for any other answer, 2 for a usage or token error.

Environment:
    SIGIL_TOKEN         the token `sigil keys create` printed (sigil_sk_... or a test key's sigil_tk_...)
    SIGIL_CONTENT_TYPE  Content-Type of BODY_FILE (default application/json)
    SIGIL_DEBUG=1       print the signature base to stderr (it holds no secret)
"""
import base64
import hashlib
import hmac
import http.client
import os
import secrets
import sys
import time
import urllib.parse
import zlib

PREFIXES = ("sigil_sk_", "sigil_tk_")  # live key, test key
BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
EXPIRES_IN = 300  # seconds; the server's window is 300 s by default


def fail(message):
    print(f"sign.py: {message}", file=sys.stderr)
    sys.exit(2)


def checksum(text):
    """CRC-32 (zlib's, as in PNG and gzip) of the token before its last `_`, as 6 base62 digits."""
    n = zlib.crc32(text.encode("ascii"))
    out = ""
    for _ in range(6):
        out = BASE62[n % 62] + out
        n //= 62
    return out


def parse_token(token):
    """(key id, secret bytes) from `sigil_sk_<keyId>_<secret base64url>_<checksum>`.

    The secret is base64url and may itself contain `_`: take the checksum from the right and
    the key id (letters and digits only) from the left; the secret is what lies between.
    """
    token = token.strip()
    if not token.startswith(PREFIXES):
        fail("SIGIL_TOKEN must start with sigil_sk_ or sigil_tk_")
    body, _, given = token.rpartition("_")
    key_id, _, secret_text = body[len("sigil_sk_"):].partition("_")
    if not (8 <= len(key_id) <= 64 and key_id.isascii() and key_id.isalnum()) or not secret_text:
        fail("SIGIL_TOKEN is malformed")
    if not hmac.compare_digest(checksum(body), given):
        fail("SIGIL_TOKEN checksum does not match: it was mistyped or truncated")
    secret = base64.urlsafe_b64decode(secret_text + "=" * (-len(secret_text) % 4))
    if len(secret) < 32:
        fail("SIGIL_TOKEN secret is shorter than 32 bytes")
    return key_id, secret


def wire(text):
    """Percent-encode (UTF-8) what cannot go on the wire as is; everything else, `%XX` included,
    is sent and signed exactly as written: never decoded, re-encoded or sorted."""
    return "".join(c if 0x21 <= ord(c) <= 0x7E else "".join(f"%{b:02X}" for b in c.encode("utf-8")) for c in text)


def authority_of(parts):
    """`@authority`: host[:port] lower-cased, without user info, the scheme's default port dropped."""
    authority = parts.netloc.rpartition("@")[2].lower()
    default = ":443" if parts.scheme == "https" else ":80"
    return authority[: -len(default)] if authority.endswith(default) else authority


def sf_string(value):
    """An RFC 8941 sf-string: printable ASCII in quotes, `\\` and `"` escaped."""
    if any(not 0x20 <= ord(c) <= 0x7E for c in value):
        fail("a signature parameter must be printable ASCII")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def main(argv):
    if len(argv) not in (3, 4):
        fail("usage: SIGIL_TOKEN=... sign.py METHOD URL [BODY_FILE]")
    token = os.environ.get("SIGIL_TOKEN")
    if not token:
        fail("set SIGIL_TOKEN to the key's token")
    key_id, secret = parse_token(token)
    method = argv[1].upper()
    parts = urllib.parse.urlsplit(argv[2])
    if parts.scheme not in ("http", "https") or not parts.netloc:
        fail("URL must be absolute http:// or https://")
    authority = authority_of(parts)
    path = wire(parts.path) or "/"
    query = wire(parts.query)
    target = path + ("?" + query if query else "")

    body = None
    headers = {"Host": authority}
    covered = [("@method", method), ("@authority", authority), ("@path", path), ("@query", "?" + query)]
    if len(argv) == 4:
        with open(argv[3], "rb") as f:
            body = f.read()
        digest = "sha-256=:" + base64.b64encode(hashlib.sha256(body).digest()).decode() + ":"
        headers["Content-Type"] = os.environ.get("SIGIL_CONTENT_TYPE", "application/json")
        headers["Content-Digest"] = digest
        covered += [("content-type", headers["Content-Type"]), ("content-digest", digest)]

    created = int(time.time())
    nonce = base64.urlsafe_b64encode(secrets.token_bytes(16)).decode().rstrip("=")
    params = "(" + " ".join(f'"{name}"' for name, _ in covered) + ")"
    params += f";created={created};expires={created + EXPIRES_IN};nonce={sf_string(nonce)}"
    params += f';keyid={sf_string(key_id)};alg="hmac-sha256";tag="sigil"'
    # One line per covered component, then @signature-params; lines joined by \n, none after the last.
    base = "\n".join([f'"{name}": {value}' for name, value in covered] + [f'"@signature-params": {params}'])
    if os.environ.get("SIGIL_DEBUG") == "1":
        print(base, file=sys.stderr)
    mac = hmac.new(secret, base.encode("utf-8"), hashlib.sha256).digest()
    headers["Signature-Input"] = "sig1=" + params
    headers["Signature"] = "sig1=:" + base64.b64encode(mac).decode() + ":"

    connection = (http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection)(
        parts.hostname, parts.port, timeout=30
    )
    connection.request(method, target, body=body, headers=headers)
    response = connection.getresponse()
    sys.stdout.write(f"{response.status}\n")
    sys.stdout.flush()
    sys.stdout.buffer.write(response.read())
    sys.stdout.flush()
    return 0 if response.status < 400 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
