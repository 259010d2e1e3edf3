"""Watching personalization work: drift of what tailor sees (:mod:`tailor.monitor.drift`)."""
