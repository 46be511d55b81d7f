"""Rules in time and actions: deadlines, behaviour windows, stage gates, condition rules, write-back actions.

``config`` reads ``kind: rules`` files into a ``RuleSet``; ``engine`` applies it to one record
inside the evaluate step (pure: state in, puts and events out) and fires due deadlines;
``actions`` turns an event into the request a connected system is sent.
"""
