package dev.cairn.engine;

/**
 * A section name the engine was not given (register it with {@link Cairn.Builder#section}), or a
 * section used as the wrong kind (a log section asked for as a map, or the other way round). The
 * message names the section and what is wrong.
 */
public final class UnknownSectionException extends IllegalArgumentException {

    private static final long serialVersionUID = 1L;

    /** @param message which section and what is wrong with it, for people */
    public UnknownSectionException(String message) {
        super(message);
    }
}
