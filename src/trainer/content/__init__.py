"""Training content: files under ``content/`` -> validated, frozen dataclasses.

``schema`` defines the dataclasses, ``loader`` reads and validates the files (returning
``file:line: message`` problems), ``coverage`` summarises which points are practised.
Nothing here touches Flask or the database.
"""
