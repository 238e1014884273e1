"""Record shaping: schema conformance, e-mail privacy, the organization label."""
