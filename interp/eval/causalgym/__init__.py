"""The CausalGym protocol, in parts: settings (:mod:`~interp.eval.causalgym.config`), the plan of
tasks (:mod:`~interp.eval.causalgym.plan`), one unit (:mod:`~interp.eval.causalgym.unit`), the
sweep (:mod:`~interp.eval.causalgym.sweep`) and its result (:mod:`~interp.eval.causalgym.result`).
:mod:`interp.eval.causal_efficacy` gathers their public names; start there.
"""
