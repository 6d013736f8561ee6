package dev.cairn.engine.sim;

import java.util.Locale;

/** Counters of one run (or the sum of many): ops, changes, and faults injected by kind. */
final class SimStats {

    long seeds;
    long ops;
    long localChanges;
    long pushesCommitted;
    long seqsGiven;
    long changesAlteringNothing;
    long acknowledgedChanges;
    long pagesApplied;
    long steps;
    // faults
    long drops;
    long ackDrops;
    long resets;
    long latePushCuts;
    long lateFramesProcessed;
    long staleFrameCuts;
    long staleFramesIgnored;
    long duplicatePages;
    long partitions;
    long restarts;
    long crashes;
    long serverRestarts;
    long clockJumps;
    long skewRefusedBatches;
    long serverWrites;
    long resentChanges;
    long ineffectiveServerClears;
    // spaces (SpaceSim)
    long membershipSteps;
    long spaceBatchesCommitted;
    long spaceBatchesRefused;
    long spaceLeftSent;
    long spacePagesApplied;
    long readOnlyWrites;
    long pageOfLeftSpaceEnds;
    long keptEntriesOlderThanCut;
    /** Space batches acknowledged though the pusher had no write right, as they altered nothing (re-sends, PROTOCOL.md 8.2). */
    long resendsAckedWithoutRight;
    long refusalsOfLeftBatches;

    void add(SimStats o) {
        seeds += o.seeds;
        ops += o.ops;
        localChanges += o.localChanges;
        pushesCommitted += o.pushesCommitted;
        seqsGiven += o.seqsGiven;
        changesAlteringNothing += o.changesAlteringNothing;
        acknowledgedChanges += o.acknowledgedChanges;
        pagesApplied += o.pagesApplied;
        steps += o.steps;
        drops += o.drops;
        ackDrops += o.ackDrops;
        resets += o.resets;
        latePushCuts += o.latePushCuts;
        lateFramesProcessed += o.lateFramesProcessed;
        staleFrameCuts += o.staleFrameCuts;
        staleFramesIgnored += o.staleFramesIgnored;
        duplicatePages += o.duplicatePages;
        partitions += o.partitions;
        restarts += o.restarts;
        crashes += o.crashes;
        serverRestarts += o.serverRestarts;
        clockJumps += o.clockJumps;
        skewRefusedBatches += o.skewRefusedBatches;
        serverWrites += o.serverWrites;
        resentChanges += o.resentChanges;
        ineffectiveServerClears += o.ineffectiveServerClears;
        membershipSteps += o.membershipSteps;
        spaceBatchesCommitted += o.spaceBatchesCommitted;
        spaceBatchesRefused += o.spaceBatchesRefused;
        spaceLeftSent += o.spaceLeftSent;
        spacePagesApplied += o.spacePagesApplied;
        readOnlyWrites += o.readOnlyWrites;
        pageOfLeftSpaceEnds += o.pageOfLeftSpaceEnds;
        keptEntriesOlderThanCut += o.keptEntriesOlderThanCut;
        resendsAckedWithoutRight += o.resendsAckedWithoutRight;
        refusalsOfLeftBatches += o.refusalsOfLeftBatches;
    }

    long faults() {
        return drops + ackDrops + resets + latePushCuts + staleFrameCuts + duplicatePages + partitions + restarts + crashes
                + serverRestarts + clockJumps;
    }

    @Override
    public String toString() {
        return String.format(Locale.ROOT,
                "seeds=%d ops=%d localChanges=%d acknowledged=%d seqs=%d pushesCommitted=%d pagesApplied=%d resentChanges=%d"
                        + " | faults=%d: drops=%d ackDrops=%d resets=%d latePushCuts=%d (lateFrames=%d) staleFrameCuts=%d"
                        + " (staleIgnored=%d) duplicatePages=%d partitions=%d restarts=%d crashes=%d serverRestarts=%d"
                        + " clockJumps=%d skewRefusedBatches=%d serverWrites=%d ineffectiveServerClears=%d",
                seeds, ops, localChanges, acknowledgedChanges, seqsGiven, pushesCommitted, pagesApplied, resentChanges,
                faults(), drops, ackDrops, resets, latePushCuts, lateFramesProcessed, staleFrameCuts, staleFramesIgnored,
                duplicatePages, partitions, restarts, crashes, serverRestarts, clockJumps, skewRefusedBatches, serverWrites, ineffectiveServerClears);
    }

    /** The spaces run's counters. */
    String spaces() {
        return String.format(Locale.ROOT,
                "seeds=%d ops=%d pushesCommitted=%d membershipSteps=%d spaceBatchesCommitted=%d spaceBatchesRefused=%d spaceLeft=%d"
                        + " spacePagesApplied=%d readOnlyWrites=%d pageOfLeftSpaceEnds=%d refusalsOfLeftBatches=%d resendsAckedWithoutRight=%d"
                        + " keptEntriesOlderThanCut=%d resets=%d",
                seeds, ops, pushesCommitted, membershipSteps, spaceBatchesCommitted, spaceBatchesRefused, spaceLeftSent,
                spacePagesApplied, readOnlyWrites, pageOfLeftSpaceEnds, refusalsOfLeftBatches, resendsAckedWithoutRight,
                keptEntriesOlderThanCut, resets);
    }
}
