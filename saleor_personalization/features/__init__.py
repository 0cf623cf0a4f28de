"""Item and customer features for the hybrid model, kept in the feature store."""
