"""The domain: canonical model, identity, golden merge, consent, events, expressions. Pure: no AWS, no HTTP."""
