#!/usr/bin/env bash
# Call a Sigil API from a shell: sign one request with RFC 9421 (hmac-sha256) and RFC 9530
# (Content-Digest), as the default Sigil server profile requires (docs/spec.md sections 1 and 2).
#
# Needs bash >= 4, curl and openssl (and coreutils' od).
#
#   SIGIL_TOKEN=sigil_sk_... ./sign.sh METHOD URL [BODY_FILE]
#
# Prints the response status on the first line, then the response body. Exit status 0 for a
# 2xx/3xx answer, 1 for any other answer, 2 for a usage or token error.
#
# Environment:
#   SIGIL_TOKEN         the token `sigil keys create` printed (sigil_sk_... or a test key's sigil_tk_...)
#   SIGIL_CONTENT_TYPE  Content-Type of BODY_FILE (default application/json)
#   SIGIL_DEBUG=1       print the signature base to stderr (it holds no secret)
#
# The secret never appears on a command line (where `ps` would show it): HMAC is computed from
# its definition (RFC 2104) with two `openssl dgst -sha256` fed through pipes.
set -euo pipefail
export LC_ALL=C

fail() {
  echo "sign.sh: $*" >&2
  exit 2
}

[[ $# -eq 2 || $# -eq 3 ]] || fail "usage: SIGIL_TOKEN=... sign.sh METHOD URL [BODY_FILE]"
token=${SIGIL_TOKEN:-}
[[ -n $token ]] || fail "set SIGIL_TOKEN to the key's token"
method=${1^^}
url=$2
body_file=${3:-}

# --- The token: sigil_sk_<keyId>_<secret base64url>_<checksum> (docs/spec.md section 4, "Token grammar").
# The secret may contain `_`: the checksum is after the LAST `_`, the key id (letters and digits)
# before the FIRST `_` after the prefix, and the secret is what lies between.
token=${token//[[:space:]]/}
[[ $token == sigil_sk_* || $token == sigil_tk_* ]] || fail "SIGIL_TOKEN must start with sigil_sk_ or sigil_tk_"
token_body=${token%_*}
given_sum=${token##*_}
rest=${token_body:9}
key_id=${rest%%_*}
secret_b64url=${rest#*_}
[[ $key_id =~ ^[A-Za-z0-9]{8,64}$ && -n $secret_b64url && $rest == *_* ]] || fail "SIGIL_TOKEN is malformed"

# CRC-32 (zlib's) of the token before its last `_`, as 6 base62 digits.
crc=$((0xFFFFFFFF))
for ((i = 0; i < ${#token_body}; i++)); do
  printf -v byte '%d' "'${token_body:i:1}"
  crc=$((crc ^ byte))
  for ((k = 0; k < 8; k++)); do
    if ((crc & 1)); then crc=$(((crc >> 1) ^ 0xEDB88320)); else crc=$((crc >> 1)); fi
  done
done
crc=$((crc ^ 0xFFFFFFFF))
BASE62=0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz
sum=""
for ((i = 0; i < 6; i++)); do
  sum=${BASE62:crc % 62:1}$sum
  crc=$((crc / 62))
done
[[ $sum == "$given_sum" ]] || fail "SIGIL_TOKEN checksum does not match: it was mistyped or truncated"

# base64url (no padding) -> hex of the secret bytes.
secret_b64=${secret_b64url//-/+}
secret_b64=${secret_b64//_//}
while ((${#secret_b64} % 4)); do secret_b64+="="; done
secret_hex=$(printf '%s\n' "$secret_b64" | openssl base64 -d -A | od -An -v -tx1 | tr -d ' \n')
((${#secret_hex} >= 64)) || fail "SIGIL_TOKEN secret is shorter than 32 bytes"

# --- The request target, as it goes on the wire: bytes outside printable ASCII are
# percent-encoded (UTF-8); everything else, %XX included, is sent and signed exactly as written.
wire() {
  local s=$1 out="" c b i
  for ((i = 0; i < ${#s}; i++)); do
    c=${s:i:1}
    printf -v b '%d' "'$c"
    b=$((b & 255))
    if ((b >= 0x21 && b <= 0x7E)); then out+=$c; else printf -v c '%%%02X' "$b"; out+=$c; fi
  done
  printf '%s' "$out"
}

[[ $url == http://* || $url == https://* ]] || fail "URL must be absolute http:// or https://"
scheme=${url%%://*}
rest=${url#*://}
rest=${rest%%#*}
host_part=${rest%%[/?]*}
target=${rest:${#host_part}}
if [[ $target == *\?* ]]; then
  path=${target%%\?*}
  query=${target#*\?}
else
  path=$target
  query=""
fi
[[ -n $path ]] || path=/
path=$(wire "$path")
query=$(wire "$query")
# @authority: host[:port] lower-cased, without user info, the scheme's default port dropped.
authority=${host_part##*@}
authority=${authority,,}
[[ $scheme == https ]] && default=":443" || default=":80"
authority=${authority%"$default"}
[[ -n $authority ]] || fail "URL has no host"

# --- Covered components, in the profile's order.
names=('"@method"' '"@authority"' '"@path"' '"@query"')
values=("$method" "$authority" "$path" "?$query")
headers=()
if [[ -n $body_file ]]; then
  [[ -r $body_file ]] || fail "cannot read $body_file"
  content_type=${SIGIL_CONTENT_TYPE:-application/json}
  digest="sha-256=:$(openssl dgst -sha256 -binary <"$body_file" | openssl base64 -A):"
  names+=('"content-type"' '"content-digest"')
  values+=("$content_type" "$digest")
  headers+=(-H "Content-Type: $content_type" -H "Content-Digest: $digest" --data-binary "@$body_file")
fi

created=$(date +%s)
nonce=$(openssl rand -base64 16 | tr '+/' '-_' | tr -d '=\n')
params="(${names[*]});created=$created;expires=$((created + 300));nonce=\"$nonce\";keyid=\"$key_id\";alg=\"hmac-sha256\";tag=\"sigil\""

# One line per covered component, then @signature-params; lines joined by \n, none after the last.
base=""
for i in "${!names[@]}"; do base+="${names[i]}: ${values[i]}"$'\n'; done
base+="\"@signature-params\": $params"
[[ ${SIGIL_DEBUG:-} == 1 ]] && printf '%s\n' "$base" >&2

# HMAC-SHA256 (RFC 2104): H((K ^ opad) || H((K ^ ipad) || message)), K zero-padded to 64 bytes.
((${#secret_hex} <= 128)) || fail "a secret longer than 64 bytes must be hashed first; Sigil keys are 32 bytes"
key_hex=$secret_hex
while ((${#key_hex} < 128)); do key_hex+=0; done
ipad="" opad=""
for ((i = 0; i < 128; i += 2)); do
  b=$((16#${key_hex:i:2}))
  printf -v x '\\x%02x' $((b ^ 0x36))
  ipad+=$x
  printf -v x '\\x%02x' $((b ^ 0x5c))
  opad+=$x
done
inner=$({ printf '%b' "$ipad"; printf '%s' "$base"; } | openssl dgst -sha256 -binary | od -An -v -tx1 | tr -d ' \n' | sed 's/../\\x&/g')
signature=$({ printf '%b' "$opad"; printf '%b' "$inner"; } | openssl dgst -sha256 -binary | openssl base64 -A)

out=$(mktemp)
trap 'rm -f "$out"' EXIT
status=$(curl -sS --path-as-is -X "$method" -o "$out" -w '%{http_code}' \
  -H "Signature-Input: sig1=$params" -H "Signature: sig1=:$signature:" -H "Expect:" \
  ${headers[@]+"${headers[@]}"} "$scheme://$host_part$path${query:+?$query}")
printf '%s\n' "$status"
cat "$out"
((status < 400))
