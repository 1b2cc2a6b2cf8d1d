package io.modelpress.orchestrator;

import io.modelpress.core.Sha256;
import io.quarkus.runtime.StartupEvent;
import io.vertx.core.http.HttpServerRequest;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import jakarta.ws.rs.Priorities;
import jakarta.ws.rs.container.ContainerRequestContext;
import jakarta.ws.rs.container.ResourceInfo;
import jakarta.ws.rs.core.HttpHeaders;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import org.jboss.logging.Logger;
import org.jboss.resteasy.reactive.server.ServerRequestFilter;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import java.lang.reflect.Method;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * Who may call the REST API ({@code /api/...}). With tokens configured ({@code modelpress.api.tokens}, entries
 * {@code <roles>:<SHA-256 of the token, hex>}, roles joined by {@code +}: read, submit, admin) every call needs
 * {@code Authorization: Bearer <token>} whose roles include the endpoint's ({@link Role}; admin includes all): 401
 * without a known token, 403 without the role. Only the tokens' hashes are configured, so the configuration holds no
 * secret. Without tokens the API answers loopback clients only: an orchestrator reachable on a network is never open
 * by default. Health, metrics and OpenAPI ({@code /q/...}) are not behind it (probes and scrapers).
 */
@ApplicationScoped
public class ApiAuth {
    private static final Logger LOG = Logger.getLogger(ApiAuth.class);
    public static final String READ = "read";
    public static final String SUBMIT = "submit";
    public static final String ADMIN = "admin";
    private static final Set<String> ROLES = Set.of(READ, SUBMIT, ADMIN);
    private static final Pattern ENTRY = Pattern.compile("([a-z+]+):([0-9a-fA-F]{64})");

    /** The role an API method needs; a method without one needs admin. */
    @Retention(RetentionPolicy.RUNTIME)
    @Target(ElementType.METHOD)
    public @interface Role {
        String value();
    }

    @Inject
    OrchestratorConfig config;

    /** Token hash (lower-case hex) to its roles, read at start-up; empty: loopback only. */
    private volatile Map<String, Set<String>> tokens = Map.of();

    void validateAtStart(@Observes StartupEvent start) {
        Map<String, Set<String>> parsed = parse(config.api().tokens().orElse(List.of()));
        tokens = parsed;
        LOG.infof(parsed.isEmpty() ? "API: no tokens configured (modelpress.api.tokens): answering loopback clients only"
                : "API: bearer tokens required (%d configured)", parsed.size());
    }

    /** The configured tokens; a malformed entry stops the start with a message naming it (never the hash itself). */
    static Map<String, Set<String>> parse(List<String> entries) {
        Map<String, Set<String>> parsed = new LinkedHashMap<>();
        int n = 0;
        for (String entry : entries) {
            n++;
            String trimmed = entry.trim();
            if (trimmed.isEmpty()) {
                continue;
            }
            var m = ENTRY.matcher(trimmed);
            if (!m.matches()) {
                throw new IllegalArgumentException("modelpress.api.tokens: entry " + n + " is not <roles>:<64 hex digits of the "
                        + "token's SHA-256> (roles joined by +, from read, submit, admin)");
            }
            Set<String> roles = Set.of(m.group(1).split("\\+"));
            if (!ROLES.containsAll(roles)) {
                throw new IllegalArgumentException("modelpress.api.tokens: entry " + n + " names unknown roles " + roles
                        + "; roles are read, submit, admin");
            }
            parsed.put(m.group(2).toLowerCase(java.util.Locale.ROOT), roles);
        }
        return parsed;
    }

    @ServerRequestFilter(priority = Priorities.AUTHENTICATION)
    public Response check(ContainerRequestContext request, ResourceInfo resource, HttpServerRequest http) {
        Method method = resource.getResourceMethod();
        if (method == null) {
            return null; // no API method matched: 404 as usual
        }
        Role role = method.getAnnotation(Role.class);
        String needed = role == null ? ADMIN : role.value();
        Map<String, Set<String>> known = tokens;
        if (known.isEmpty()) {
            return loopback(http) ? null : refuse(Response.Status.UNAUTHORIZED, "UNAUTHENTICATED", "this API has no tokens "
                    + "configured (modelpress.api.tokens) and answers only on the orchestrator's own machine");
        }
        String header = request.getHeaderString(HttpHeaders.AUTHORIZATION);
        if (header == null || !header.regionMatches(true, 0, "Bearer ", 0, 7) || header.length() <= 7) {
            return refuse(Response.Status.UNAUTHORIZED, "UNAUTHENTICATED", "this API needs 'Authorization: Bearer <token>'");
        }
        Set<String> roles = rolesOf(known, header.substring(7).trim());
        if (roles == null) {
            return refuse(Response.Status.UNAUTHORIZED, "UNAUTHENTICATED", "the bearer token is not one of this API's tokens");
        }
        if (!roles.contains(needed) && !roles.contains(ADMIN)) {
            return refuse(Response.Status.FORBIDDEN, "FORBIDDEN", "this call needs the role '" + needed + "'; the token has "
                    + roles.stream().sorted().collect(Collectors.joining(", ")));
        }
        return null;
    }

    /** The roles of a presented token: its hash compared with every configured hash in constant time. */
    private static Set<String> rolesOf(Map<String, Set<String>> known, String token) {
        byte[] presented = HexFormat.of().parseHex(hash(token));
        Set<String> found = null;
        for (Map.Entry<String, Set<String>> entry : known.entrySet()) {
            if (MessageDigest.isEqual(presented, HexFormat.of().parseHex(entry.getKey()))) {
                found = entry.getValue();
            }
        }
        return found;
    }

    private static boolean loopback(HttpServerRequest http) {
        if (http == null || http.remoteAddress() == null) {
            return false;
        }
        try {
            return InetAddress.getByName(http.remoteAddress().hostAddress()).isLoopbackAddress();
        } catch (UnknownHostException e) {
            return false;
        }
    }

    private static Response refuse(Response.Status status, String code, String message) {
        Response.ResponseBuilder response = Response.status(status).type(MediaType.APPLICATION_JSON)
                .entity(new ErrorMappers.ApiError(code, message));
        return status == Response.Status.UNAUTHORIZED ? response.header(HttpHeaders.WWW_AUTHENTICATE, "Bearer").build() : response.build();
    }

    /** The SHA-256 of a token, as configured in modelpress.api.tokens (hex). */
    public static String hash(String token) {
        return Sha256.of(token.getBytes(StandardCharsets.UTF_8));
    }
}
