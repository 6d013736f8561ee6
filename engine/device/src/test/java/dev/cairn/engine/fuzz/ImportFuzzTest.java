package dev.cairn.engine.fuzz;

import dev.cairn.engine.sync.internal.SyncPorts;
import dev.cairn.engine.Cairn;
import dev.cairn.engine.ImportException;
import dev.cairn.engine.codec.ExportDocument;
import dev.cairn.engine.codec.MalformedDocumentException;
import dev.cairn.engine.crdt.Change;
import java.util.NavigableMap;
import net.jqwik.api.Example;

/**
 * Fuzzes the import parser: {@link ExportDocument#read} may only throw
 * {@link MalformedDocumentException}, {@link Cairn#importData} only {@link ImportException}, and a
 * refused import changes nothing (canonical state and outbox identical before and after).
 */
class ImportFuzzTest {

    /** A fresh engine every so many inputs, so accepted imports do not make the state grow without end. */
    private static final int INPUTS_PER_ENGINE = 300;

    private Cairn cairn;
    private int used;

    @Example // jqwik, not JUnit: its generators only run on a jqwik thread
    void importRefusesHostileDocumentsAndChangesNothing() {
        Mutator mutator = new Mutator(ValidInputs.samples(ValidInputs.EXPORT_DOCUMENTS, 64, 4), 1 << 16);
        try {
            new FuzzLoop<>("ImportFuzzTest", new Corpus("import"), FuzzLoop.Format.TEXT,
                    FuzzLoop.mutationsOf(ValidInputs.EXPORT_DOCUMENTS, mutator), this::importDocument, 1000).run();
        } finally {
            if (cairn != null) {
                cairn.close();
            }
        }
    }

    private boolean importDocument(String document) {
        try {
            ExportDocument.read(document, ValidInputs.KINDS);
        } catch (MalformedDocumentException e) {
            Declared.message(e);
        }
        Cairn engine = engine();
        engine.save().join();
        String stateBefore = engine.canonicalState();
        NavigableMap<Long, Change> outboxBefore = SyncPorts.of(engine).outbox(Integer.MAX_VALUE);
        int pendingBefore = engine.pendingChanges();
        try {
            engine.importData(document);
            return true;
        } catch (ImportException e) {
            Declared.message(e);
            engine.save().join();
            if (!engine.canonicalState().equals(stateBefore)) {
                throw new AssertionError("a refused import changed the state");
            }
            if (!SyncPorts.of(engine).outbox(Integer.MAX_VALUE).equals(outboxBefore) || engine.pendingChanges() != pendingBefore) {
                throw new AssertionError("a refused import changed the outbox");
            }
            return false;
        }
    }

    private Cairn engine() {
        if (cairn == null || ++used > INPUTS_PER_ENGINE) {
            if (cairn != null) {
                cairn.close();
            }
            used = 0;
            cairn = Cairn.builder().inMemory().replicaId("fuzz").open();
            cairn.cards().card("intro").expand();
            cairn.preferences().setTheme("dark");
            cairn.chat().append("conv-1", "user", "hello");
            cairn.consent().sign("service", "v1");
        }
        return cairn;
    }
}
