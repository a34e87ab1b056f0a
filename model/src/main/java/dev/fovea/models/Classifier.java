package dev.fovea.models;

import dev.fovea.autograd.Var;
import dev.fovea.backend.Backend;

import java.util.Map;

/** A model whose last layer maps features to class scores, and can be given a fresh one (fine-tuning). */
public interface Classifier {
    /** Replaces the head by a freshly initialised one with {@code classes} outputs. */
    void replaceHead(Backend be, int classes, long seed);

    /** The head's parameters under the model's names. */
    Map<String, Var> headParameters();

    int classes();
}
