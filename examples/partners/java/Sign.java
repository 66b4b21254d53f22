// Call a Sigil API from Java: sign one request with RFC 9421 (hmac-sha256) and RFC 9530
// (Content-Digest), as the default Sigil server profile requires (docs/spec.md sections 1 and 2).
//
// JDK only, Java >= 11, no build step:
//
//   SIGIL_TOKEN=sigil_sk_... java Sign.java METHOD URL [BODY_FILE]
//
// Prints the response status on the first line, then the response body. Exit status 0 for a
// 2xx/3xx answer, 1 for any other answer, 2 for a usage or token error.
//
// Environment:
//   SIGIL_TOKEN         the token `sigil keys create` printed (sigil_sk_... or a test key's sigil_tk_...)
//   SIGIL_CONTENT_TYPE  Content-Type of BODY_FILE (default application/json)
//   SIGIL_DEBUG=1       print the signature base to stderr (it holds no secret)

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.zip.CRC32;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

public class Sign {
  static final String BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  static final long EXPIRES_IN = 300; // seconds; the server's window is 300 s by default

  static void fail(String message) {
    System.err.println("Sign.java: " + message);
    System.exit(2);
  }

  /** CRC-32 (zlib's) of the token before its last '_', as 6 base62 digits. */
  static String checksum(String text) {
    CRC32 crc = new CRC32();
    crc.update(text.getBytes(StandardCharsets.US_ASCII));
    long n = crc.getValue();
    StringBuilder out = new StringBuilder();
    for (int i = 0; i < 6; i++) {
      out.insert(0, BASE62.charAt((int) (n % 62)));
      n /= 62;
    }
    return out.toString();
  }

  /**
   * sigil_sk_<keyId>_<secret base64url>_<checksum>. The secret is base64url and may itself
   * contain '_': take the checksum from the right and the key id (letters and digits only) from
   * the left; the secret is what lies between.
   */
  static Object[] parseToken(String token) {
    token = token.strip();
    if (!token.startsWith("sigil_sk_") && !token.startsWith("sigil_tk_"))
      fail("SIGIL_TOKEN must start with sigil_sk_ or sigil_tk_");
    int last = token.lastIndexOf('_');
    String body = token.substring(0, last);
    String given = token.substring(last + 1);
    String rest = body.substring("sigil_sk_".length());
    int first = rest.indexOf('_');
    if (first < 0) fail("SIGIL_TOKEN is malformed");
    String keyId = rest.substring(0, first);
    String secretText = rest.substring(first + 1);
    if (!keyId.matches("[A-Za-z0-9]{8,64}") || secretText.isEmpty()) fail("SIGIL_TOKEN is malformed");
    if (!MessageDigest.isEqual(checksum(body).getBytes(StandardCharsets.US_ASCII), given.getBytes(StandardCharsets.US_ASCII)))
      fail("SIGIL_TOKEN checksum does not match: it was mistyped or truncated");
    byte[] secret = Base64.getUrlDecoder().decode(secretText);
    if (secret.length < 32) fail("SIGIL_TOKEN secret is shorter than 32 bytes");
    return new Object[] {keyId, secret};
  }

  /**
   * Percent-encode (UTF-8) what cannot go on the wire as is; everything else, %XX included, is
   * sent and signed exactly as written: never decoded, re-encoded or sorted.
   */
  static String wire(String text) {
    StringBuilder out = new StringBuilder();
    for (byte b : text.getBytes(StandardCharsets.UTF_8)) {
      int v = b & 0xff;
      if (v >= 0x21 && v <= 0x7e) out.append((char) v);
      else out.append(String.format("%%%02X", v));
    }
    return out.toString();
  }

  /** An RFC 8941 sf-string: printable ASCII in quotes, '\' and '"' escaped. */
  static String sfString(String value) {
    for (char c : value.toCharArray()) if (c < 0x20 || c > 0x7e) fail("a signature parameter must be printable ASCII");
    return "\"" + value.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
  }

  public static void main(String[] args) throws Exception {
    if (args.length != 2 && args.length != 3) fail("usage: SIGIL_TOKEN=... java Sign.java METHOD URL [BODY_FILE]");
    String token = System.getenv("SIGIL_TOKEN");
    if (token == null || token.isEmpty()) fail("set SIGIL_TOKEN to the key's token");
    Object[] parsed = parseToken(token);
    String keyId = (String) parsed[0];
    byte[] secret = (byte[]) parsed[1];
    String method = args[0].toUpperCase(java.util.Locale.ROOT);

    String url = args[1];
    int hash = url.indexOf('#');
    if (hash >= 0) url = url.substring(0, hash);
    int colon = url.indexOf("://");
    String scheme = colon > 0 ? url.substring(0, colon).toLowerCase(java.util.Locale.ROOT) : "";
    if (!scheme.equals("http") && !scheme.equals("https")) fail("URL must be absolute http:// or https://");
    String rest = url.substring(colon + 3);
    int end = rest.length();
    for (int i = 0; i < rest.length(); i++) {
      char c = rest.charAt(i);
      if (c == '/' || c == '?') {
        end = i;
        break;
      }
    }
    String hostPart = rest.substring(0, end);
    String target = rest.substring(end);
    int q = target.indexOf('?');
    String path = wire(q >= 0 ? target.substring(0, q) : target);
    String query = q >= 0 ? wire(target.substring(q + 1)) : "";
    if (path.isEmpty()) path = "/";
    // @authority: host[:port] lower-cased, without user info, the scheme's default port dropped.
    String authority = hostPart.substring(hostPart.lastIndexOf('@') + 1).toLowerCase(java.util.Locale.ROOT);
    String defaultPort = scheme.equals("https") ? ":443" : ":80";
    if (authority.endsWith(defaultPort)) authority = authority.substring(0, authority.length() - defaultPort.length());
    if (authority.isEmpty()) fail("URL has no host");

    List<String[]> covered = new ArrayList<>();
    covered.add(new String[] {"@method", method});
    covered.add(new String[] {"@authority", authority});
    covered.add(new String[] {"@path", path});
    covered.add(new String[] {"@query", "?" + query});
    byte[] body = null;
    String contentType = null;
    String digest = null;
    if (args.length == 3) {
      body = Files.readAllBytes(Path.of(args[2]));
      contentType = System.getenv().getOrDefault("SIGIL_CONTENT_TYPE", "application/json");
      digest = "sha-256=:" + Base64.getEncoder().encodeToString(MessageDigest.getInstance("SHA-256").digest(body)) + ":";
      covered.add(new String[] {"content-type", contentType});
      covered.add(new String[] {"content-digest", digest});
    }

    long created = System.currentTimeMillis() / 1000;
    byte[] nonceBytes = new byte[16];
    new SecureRandom().nextBytes(nonceBytes);
    String nonce = Base64.getUrlEncoder().withoutPadding().encodeToString(nonceBytes);
    StringBuilder params = new StringBuilder("(");
    for (int i = 0; i < covered.size(); i++) params.append(i == 0 ? "" : " ").append('"').append(covered.get(i)[0]).append('"');
    params.append(");created=").append(created).append(";expires=").append(created + EXPIRES_IN);
    params.append(";nonce=").append(sfString(nonce)).append(";keyid=").append(sfString(keyId));
    params.append(";alg=\"hmac-sha256\";tag=\"sigil\"");
    // One line per covered component, then @signature-params; lines joined by \n, none after the last.
    StringBuilder base = new StringBuilder();
    for (String[] c : covered) base.append('"').append(c[0]).append("\": ").append(c[1]).append('\n');
    base.append("\"@signature-params\": ").append(params);
    if ("1".equals(System.getenv("SIGIL_DEBUG"))) System.err.println(base);
    Mac mac = Mac.getInstance("HmacSHA256");
    mac.init(new SecretKeySpec(secret, "HmacSHA256"));
    String signature = Base64.getEncoder().encodeToString(mac.doFinal(base.toString().getBytes(StandardCharsets.UTF_8)));

    HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(scheme + "://" + hostPart + path + (query.isEmpty() ? "" : "?" + query)))
        .timeout(Duration.ofSeconds(30))
        .header("Signature-Input", "sig1=" + params)
        .header("Signature", "sig1=:" + signature + ":");
    if (body != null) {
      request.header("Content-Type", contentType).header("Content-Digest", digest);
      request.method(method, HttpRequest.BodyPublishers.ofByteArray(body));
    } else {
      request.method(method, HttpRequest.BodyPublishers.noBody());
    }
    // Plain http stays on HTTP/1.1 (no h2c upgrade headers); https negotiates HTTP/2 or 1.1.
    HttpClient client = HttpClient.newBuilder()
        .version(scheme.equals("http") ? HttpClient.Version.HTTP_1_1 : HttpClient.Version.HTTP_2)
        .build();
    HttpResponse<byte[]> response;
    try {
      response = client.send(request.build(), HttpResponse.BodyHandlers.ofByteArray());
    } catch (IOException e) {
      System.err.println("Sign.java: request failed: " + e);
      System.exit(1);
      return;
    }
    System.out.println(response.statusCode());
    System.out.write(response.body());
    System.out.flush();
    System.exit(response.statusCode() < 400 ? 0 : 1);
  }
}
