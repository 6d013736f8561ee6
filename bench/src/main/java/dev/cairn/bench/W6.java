package dev.cairn.bench;

/**
 * W6 scaling.
 * <ul>
 *   <li>W2 (same devices, changes and measurement) on 1, 2 and 4 server JVMs ({@code w6-nodes})
 *       sharing one PostgreSQL database, fanning out with LISTEN/NOTIFY as in TwoNodeSyncIT;
 *       device {@code d} connects to node {@code d mod nodes}. PostgreSQL only: the embedded store
 *       has one node. On a 2-core machine this shows that it works and what it costs, not a
 *       speed-up.</li>
 *   <li>W3 at growing sizes ({@code w6-entries}: map entries, with entries / 5 chat messages, the
 *       ratio of W3's 100,000 / 20,000), on each store of {@code --store}.</li>
 * </ul>
 */
final class W6 {

    private W6() {
    }

    static void run(Ctx ctx) throws Exception {
        int devices = ctx.args.integer("w2-devices");
        int changes = ctx.args.integer("w2-changes");
        int runs = ctx.args.integer("runs");
        for (int run = 1; run <= runs; run++) {
            if (ctx.args.stores().contains("pg")) {
                for (int nodes : ctx.args.integers("w6-nodes")) {
                    try (Site site = Site.start(ctx, "pg", nodes)) {
                        ctx.report.add("W6 scaling: W2 on n nodes", "cairn pg, " + nodes + " node(s)", run,
                                W2.ingest(ctx, site, devices, changes, "w6r" + run + "n" + nodes));
                    }
                }
            }
            for (int entries : ctx.args.integers("w6-entries")) {
                for (String store : ctx.args.stores()) {
                    try (Site site = Site.start(ctx, store, 1)) {
                        ctx.report.add("W6 scaling: W3 catch-up by size", "cairn " + store + ", " + entries + " entries", run,
                                W3.catchUp(ctx, site, entries, Math.max(1, entries / 5), "w6r" + run + "e" + entries));
                    }
                }
            }
        }
    }
}
