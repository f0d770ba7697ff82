# The dashboard's models (audit records, lag samples) register here as they arrive.
