package dev.fovea.backend;

import java.util.ArrayList;
import java.util.List;
import java.util.ServiceLoader;

/** Finds backends on the class path. Selection is strict: a backend that cannot run here is an error, never a fallback. */
public final class Backends {
    private Backends() {}

    public static List<BackendProvider> providers() {
        List<BackendProvider> list = new ArrayList<>();
        ServiceLoader.load(BackendProvider.class, Backends.class.getClassLoader()).forEach(list::add);
        return list;
    }

    public static BackendProvider provider(String name) {
        List<BackendProvider> all = providers();
        for (BackendProvider p : all) if (p.name().equals(name)) return p;
        List<String> names = all.stream().map(BackendProvider::name).toList();
        throw new BackendUnavailableException("unknown backend '" + name + "'; available on this class path: " + names);
    }

    /** Opens the named backend or throws {@link BackendUnavailableException} naming the reason. */
    public static Backend open(String name, BackendOptions options) {
        BackendProvider p = provider(name);
        p.unavailableReason().ifPresent(r -> {
            throw new BackendUnavailableException(name + " backend unavailable: " + r);
        });
        return p.open(options);
    }

    public static Backend open(String name) { return open(name, BackendOptions.defaults()); }
}
