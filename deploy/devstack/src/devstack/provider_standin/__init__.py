"""The provider stand-in: Plant.id v3 and Pl@ntNet v2 wire formats, answered from a small catalogue.

Run it with `uvicorn devstack.provider_standin.app:app`; steer it through `/_standin/control`.
"""
