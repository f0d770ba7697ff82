"""What the sign-in tests share: the IdP-group mapping and the access rules it feeds."""

# Three IdP groups, one exact, one by pattern, one exact: viewer, a scoped team, operator.
MAPPINGS = """
[[group_mappings]]
idp = "kafka-viewers"
django = ["viewer"]

[[group_mappings]]
pattern = "team-payments(-.*)?"
django = ["payments-team"]

[[group_mappings]]
idp = "kafka-operators"
django = ["operator"]
"""

ACCESS = r"""
[[rules]]
groups = ["viewer"]
topics = [".*"]
consumer_groups = [".*"]
actions = ["view", "tail"]

[[rules]]
groups = ["payments-team"]
clusters = ["local"]
topics = ['payments\..*']
consumer_groups = ['payments-.*']
actions = ["view", "tail", "reset"]

[[rules]]
groups = ["operator"]
topics = [".*"]
consumer_groups = [".*"]
actions = ["view", "tail", "produce", "reset"]

[[masks]]
topics = ['payments\..*']
json_fields = ["pan"]
"""
