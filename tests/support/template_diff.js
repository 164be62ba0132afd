// Compares CloudFormation templates with the CDK CLI's own diff library (@aws-cdk/cloudformation-diff, which
// knows from the CloudFormation resource specification which property changes replace a resource).
// Reads [{"old": <template>, "new": <template>}, ...] on stdin, writes one summary per pair on stdout:
// {"resources": {logicalId: {"type", "impact", "properties": {name: impact}}}, "outputs": {name: "added" | ...}}
"use strict";
const { fullDiff } = require("@aws-cdk/cloudformation-diff");

function summarize(pair) {
  const diff = fullDiff(pair.old, pair.new);
  const resources = {};
  diff.resources.forEachDifference((logicalId, change) => {
    const properties = {};
    for (const [name, update] of Object.entries(change.propertyUpdates || {})) {
      properties[name] = update.changeImpact || "WILL_UPDATE";
    }
    for (const [name] of Object.entries(change.otherChanges || {})) {
      properties[name] = "WILL_UPDATE";
    }
    // The library rates property changes only for types in the CloudFormation specification; a changed
    // property of a custom resource (not in it) still makes CloudFormation send an Update.
    const unrated = change.changeImpact === "NO_CHANGE" && Object.keys(properties).length > 0;
    resources[logicalId] = {
      type: change.newResourceType || change.oldResourceType,
      impact: unrated ? "WILL_UPDATE" : change.changeImpact,
      properties,
    };
  });
  const outputs = {};
  diff.outputs.forEachDifference((name, change) => {
    outputs[name] = change.isAddition ? "added" : change.isRemoval ? "removed" : "changed";
  });
  return { resources, outputs };
}

let input = "";
process.stdin.on("data", (chunk) => (input += chunk));
process.stdin.on("end", () => process.stdout.write(JSON.stringify(JSON.parse(input).map(summarize))));
