"""form-js forms: the compiled form model that validates submissions, deployed form versions, dynamic options."""
