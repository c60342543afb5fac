"""Test doubles shipped with arbitrex, so users can test their code without a terminal."""
