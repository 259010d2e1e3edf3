"""QA previews: every template × every persona, with the reasons behind each block."""
