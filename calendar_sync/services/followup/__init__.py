"""Follow-up: what is decided for each session, and its effects on patients and therapist.

``inputs`` gathers what the domain decides on, ``run`` decides for every therapist,
``effects`` records each decision with its messages, proposal and fee; ``compose`` words
them, ``marks`` and ``offers`` are the therapist's hand in it.
"""
