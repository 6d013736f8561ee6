/**
 * The sync client: keeps a {@link dev.cairn.engine.Cairn} engine in sync with a Cairn server over
 * the WebSocket protocol of PROTOCOL.md. {@link dev.cairn.engine.sync.SyncClient} is the entry
 * point; {@link dev.cairn.engine.sync.Transport} is the port to the network, with
 * {@link dev.cairn.engine.sync.JdkWebSocketTransport} (the JDK's {@code java.net.http}) as the
 * real implementation.
 */
package dev.cairn.engine.sync;
