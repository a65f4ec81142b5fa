"""The campaign, in the order of the funnel.

``spec`` (what the user asks for), ``engine`` (the Maker tree as jobs and where
they run), ``round`` (one active-learning round), ``labels`` (a candidate's
labels and the stored history), ``results`` (what a campaign found).
"""
