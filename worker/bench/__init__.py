"""Benchmark commands' machinery: peers (other extractors, measured beside ours), seen."""
