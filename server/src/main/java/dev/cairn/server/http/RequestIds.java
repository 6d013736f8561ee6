package dev.cairn.server.http;

import io.vertx.ext.web.RoutingContext;
import java.util.concurrent.ThreadLocalRandom;
import java.util.regex.Pattern;
import org.slf4j.spi.LoggingEventBuilder;

/**
 * Every HTTP request gets an id: the caller's {@code X-Request-Id} when it is a plain token (a
 * proxy's), else a fresh one; it is echoed in the answer and carried, with the user, as fields of
 * every log line about the request (JSON logs: {@code kvpList}).
 */
final class RequestIds {

    static final String HEADER = "X-Request-Id";
    private static final Pattern PLAIN = Pattern.compile("[A-Za-z0-9._:-]{1,64}");
    private static final String KEY = "requestId";

    private RequestIds() {
    }

    /** The first handler of every route. */
    static void assign(RoutingContext ctx) {
        String given = ctx.request().getHeader(HEADER);
        String id = given != null && PLAIN.matcher(given).matches() ? given : Long.toHexString(ThreadLocalRandom.current().nextLong() | Long.MIN_VALUE);
        ctx.put(KEY, id);
        ctx.response().putHeader(HEADER, id);
        ctx.next();
    }

    /** {@code event} with the request's user (once authenticated) and id as fields. */
    static LoggingEventBuilder fields(LoggingEventBuilder event, RoutingContext ctx) {
        String user = ctx.user() == null ? null : ctx.user().subject();
        String id = ctx.get(KEY);
        if (user != null) {
            event = event.addKeyValue("user", user);
        }
        return id == null ? event : event.addKeyValue("request", id);
    }
}
