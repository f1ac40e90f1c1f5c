"""Python callables of example_operators.yaml (run by `python3` on a worker)."""


def make_batches(count, ds=None):
    """Returns the batches to process: mapped over by process_batch."""
    print(f"planning {count} batches for {ds}")
    return [{"batch": i, "day": ds} for i in range(int(count))]


def process_batch(item, mode="fast"):
    print(f"processing batch {item['batch']} of {item['day']} in {mode} mode")
    return item["batch"] * 10


def summarize(**context):
    print(f"run {context['run_id']} done, logical date {context['ds']}")
