package dev.cairn.server.auth;

import java.util.ArrayList;
import java.util.List;

/**
 * The subprotocols a socket upgrade offers (PROTOCOL.md 2). A browser cannot set headers on a
 * WebSocket, so its token rides here rather than in the URL, which proxies and access logs keep:
 * it offers {@value #CAIRN} and {@value #BEARER_PREFIX}{@code <token>}, and the server picks
 * {@value #CAIRN}.
 */
public final class SocketProtocols {

    /** The subprotocol the server picks. */
    public static final String CAIRN = "cairn";
    /** The prefix of the offered subprotocol that carries the bearer token. */
    public static final String BEARER_PREFIX = "cairn.bearer.";

    private final List<String> offered;

    private SocketProtocols(List<String> offered) {
        this.offered = offered;
    }

    /** From the request's {@code Sec-WebSocket-Protocol} header values (each a comma-separated list). */
    public static SocketProtocols of(List<String> headerValues) {
        List<String> offered = new ArrayList<>();
        for (String value : headerValues) {
            for (String p : value.split(",")) {
                if (!p.isBlank()) {
                    offered.add(p.trim());
                }
            }
        }
        return new SocketProtocols(offered);
    }

    /** The token offered as {@value #BEARER_PREFIX}{@code <token>}, or null. */
    public String bearer() {
        for (String p : offered) {
            if (p.startsWith(BEARER_PREFIX) && p.length() > BEARER_PREFIX.length()) {
                return p.substring(BEARER_PREFIX.length());
            }
        }
        return null;
    }

    /** Whether {@value #CAIRN} is offered: without it the upgrade would name no subprotocol and a browser drops the socket. */
    public boolean offersCairn() {
        return offered.contains(CAIRN);
    }
}
