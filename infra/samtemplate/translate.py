"""Translate SAM templates into the CloudFormation AWS would run.

Reads a JSON list of jobs, {"template": "<YAML text>", "parameters": {...}},
on stdin and writes a JSON list of results, {"template": {...}} or
{"error": "..."}, one per job, on stdout. It is what `sam deploy` has
CloudFormation do, without AWS: the same translator (aws-sam-translator,
installed with cfn-lint) reads the template with cfn-lint's YAML reader.

Two things differ from a deploy, both on purpose: CodeUri becomes the
s3:// location `sam package` would give it, and the transform list is the
SAM one alone (the translator does not apply AWS::LanguageExtensions, whose
Fn::If in DeletionPolicy the Go side resolves like any other).
"""

import json
import sys

from cfnlint.decode import decode_str
from samtranslator.model.exceptions import InvalidDocumentException
from samtranslator.translator.transform import transform


class NoManagedPolicies:
    """The translator's managed-policy loader: the template names none by
    name, so nothing needs to be looked up in IAM."""

    def load(self):
        return {}


def translate(job):
    template, problems = decode_str(job["template"])
    if problems:
        raise ValueError("; ".join(str(p) for p in problems))
    template["Transform"] = "AWS::Serverless-2016-10-31"
    for resource in template.get("Resources", {}).values():
        if resource.get("Type") == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = "s3://artifacts/userinfo.zip"
    return transform(template, job["parameters"], NoManagedPolicies(), feature_toggle=None)


def main():
    results = []
    for job in json.load(sys.stdin):
        try:
            results.append({"template": translate(job)})
        except InvalidDocumentException as e:
            results.append({"error": "; ".join(str(c) for c in e.causes)})
        except Exception as e:  # noqa: BLE001 - every failure is the job's answer
            results.append({"error": f"{type(e).__name__}: {e}"})
    json.dump(results, sys.stdout, default=str)


if __name__ == "__main__":
    main()
