# Generates test/vectors/sigil-ece-v1.json: Sigil's body-encryption key derivation (docs/spec.md §8)
# and whole aes128gcm messages (RFC 8188) under it, computed independently of the TypeScript code
# with Python's `cryptography` (HKDF-SHA256, AES-128-GCM). Run: python3 test/vectors/gen/sigil-ece-v1.py
import base64, json, struct
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

def b64u(b): return base64.urlsafe_b64encode(b).rstrip(b'=').decode()
def hkdf(ikm, salt, info, n):
    return HKDF(algorithm=hashes.SHA256(), length=n, salt=salt, info=info).derive(ikm)

def derive(secret, key_id):
    # salt empty: HKDF-Extract then uses HashLen zero bytes (RFC 5869 §2.2)
    return hkdf(secret, b'', b'sigil aes128gcm v1\x00' + key_id.encode(), 16)

def encrypt(key, salt, rs, key_id, plain):
    cek = hkdf(key, salt, b'Content-Encoding: aes128gcm\x00', 16)
    nonce = hkdf(key, salt, b'Content-Encoding: nonce\x00', 12)
    kid = key_id.encode()
    out = salt + struct.pack('>IB', rs, len(kid)) + kid
    room = rs - 17
    chunks = [plain[i:i + room] for i in range(0, len(plain), room)] or [b'']
    for seq, chunk in enumerate(chunks):
        last = seq == len(chunks) - 1
        iv = (int.from_bytes(nonce, 'big') ^ seq).to_bytes(12, 'big')
        out += AESGCM(cek).encrypt(iv, chunk + (b'\x02' if last else b'\x01'), None)
    return out

secret = bytes(range(32))
secret_b64 = base64.b64encode(secret).decode()
salt = bytes(range(0xa0, 0xb0))
SRC = ("sigil v1 body encryption (docs/spec.md §8): key = HKDF-SHA256(IKM=secret, salt=empty, "
       "info='sigil aes128gcm v1' 0x00 keyId, L=16), then RFC 8188 aes128gcm; computed independently "
       "with Python cryptography (test/vectors/gen/sigil-ece-v1.py)")
cases = []
for name, key_id, rs, plain in [
    ("one record", "k_test_1", 4096, b"I am the walrus"),
    ("empty body: one record holding only the last delimiter", "k_test_1", 4096, b""),
    ("three records of rs 32 (15 bytes each), the last one short", "k_test_1", 32, b"The quick brown fox jumps over the lazy"),
    ("plaintext filling its records exactly: the last record is full and marked last", "k_test_1", 32, b"A" * 30),
    ("another key id under the same secret gives another key", "k_test_2", 4096, b"I am the walrus"),
]:
    key = derive(secret, key_id)
    cases.append({"name": name, "source": SRC, "secretBase64": secret_b64, "keyId": key_id,
                  "key": b64u(key), "salt": b64u(salt), "rs": rs, "plaintext": b64u(plain),
                  "encrypted": b64u(encrypt(key, salt, rs, key_id, plain))})
doc = {"description": "Sigil aes128gcm bodies: the key derived from an API key's secret and whole encrypted bodies (base64url without padding).",
       "source": "sigil v1", "cases": cases}
with open(__file__.replace('gen/sigil-ece-v1.py', 'sigil-ece-v1.json'), 'w') as f:
    json.dump(doc, f, indent=1); f.write('\n')
