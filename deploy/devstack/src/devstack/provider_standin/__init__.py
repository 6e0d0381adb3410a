"""The provider stand-in: Plant.id v3, Pl@ntNet v2 and GBIF species-match wire formats, answered from a small catalogue.

Run it with `uvicorn devstack.provider_standin.app:app`; steer it through `/_standin/control`.
"""
