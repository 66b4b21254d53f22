import hmac, hashlib, base64, json
from urllib.parse import quote
secret_b64 = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
secret = base64.b64decode(secret_b64)
key_id = "k_test_1"
created = 1735689600
nonce = "AAECAwQFBgcICQoLDA0ODw"
def case(name, method, scheme, authority, path, query, lifetime, verify_method=None):
    # query: the raw covered query ('' or '?...'); the signed @query value is '?' when empty
    comps = '("@method" "@authority" "@path" "@query")'
    params = f'{comps};created={created};expires={created+lifetime};nonce="{nonce}";keyid="{key_id}";alg="hmac-sha256";tag="sigil-url"'
    qv = query if query not in ('',) else '?'
    base = f'"@method": {method}\n"@authority": {authority}\n"@path": {path}\n"@query": {qv}\n"@signature-params": {params}'
    mac = base64.b64encode(hmac.new(secret, base.encode(), hashlib.sha256).digest()).decode()
    sig_input = f'sig1={params}'
    sig = f'sig1=:{mac}:'
    enc = lambda s: quote(s, safe='')
    tail = f'sigil-input={enc(sig_input)}&sigil={enc(sig)}'
    if query == '': full_q = '?' + tail
    elif query == '?': full_q = '?' + tail
    else: full_q = query + '&' + tail
    url = f'{scheme}://{authority}{path}{full_q}'
    return {"name": name, "source": "sigil v1 presigned URL (docs/spec.md §7); base, MAC and URL computed independently with Python's hmac, hashlib and urllib.parse.quote(safe='')",
            "method": verify_method or method, "keyId": key_id, "secretBase64": secret_b64, "created": created, "nonce": nonce,
            "expiresIn": lifetime, "url": url, "base": base, "signatureInput": sig_input, "signature": sig}
cases = [
  case("GET link, no query", "GET", "https", "files.example.com", "/v1/reports/7.pdf", "", 900),
  case("GET link with a query kept in its order and encoding", "GET", "https", "files.example.com", "/v1/reports", "?b=2&a=1&q=caf%C3%A9%20bar", 3600),
  case("HEAD with a GET link", "GET", "https", "files.example.com", "/v1/reports/7.pdf", "", 900, verify_method="HEAD"),
  case("PUT upload link bound to a size and a digest", "PUT", "https", "files.example.com:8443", "/v1/uploads/a.bin",
       "?sigil-max-bytes=11&sigil-content-digest=" + quote("sha-256=:uU0nuZNNPgilLlLX2n2r+sSE7+N6U4DukIj3rOLvzek=:", safe=''), 600),
  case("single-use link, trailing & kept in the covered query", "GET", "http", "127.0.0.1:8080", "/dl", "?x=1&&sigil-once=1", 60),
  case("7-day link (the longest allowed)", "GET", "https", "files.example.com", "/v1/a", "?", 604800),
]
json.dump({"description": "Sigil presigned URLs (docs/spec.md §7): the covered query is the raw text before sigil-input; tag sigil-url.", "source": "sigil v1", "cases": cases}, open(__import__('os').path.join(__import__('os').path.dirname(__file__), '..', 'sigil-url-v1.json'), 'w'), indent=1)
print(cases[3]['url'])
