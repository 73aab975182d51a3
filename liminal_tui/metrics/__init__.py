"""What a run measures and how it is named: the vocabulary (:mod:`.kinds`) shared by the engine, the
profile's thresholds and every reader. Modules here import nothing from the rest of the package."""
