"""The bottom layer: errors, settings, vocabulary, currencies, the warehouse's connections."""
