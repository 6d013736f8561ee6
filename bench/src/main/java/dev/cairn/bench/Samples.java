package dev.cairn.bench;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/** The measured values of one workload (seconds per run). */
final class Samples {

    private final List<Double> values = new ArrayList<>();

    void add(double v) {
        values.add(v);
    }

    int count() {
        return values.size();
    }

    double median() {
        List<Double> s = sorted();
        int m = s.size() / 2;
        return s.size() % 2 == 1 ? s.get(m) : (s.get(m - 1) + s.get(m)) / 2;
    }

    double min() {
        return sorted().get(0);
    }

    double max() {
        List<Double> s = sorted();
        return s.get(s.size() - 1);
    }

    private List<Double> sorted() {
        if (values.isEmpty()) {
            throw new IllegalStateException("no samples");
        }
        List<Double> s = new ArrayList<>(values);
        Collections.sort(s);
        return s;
    }
}
