package samtemplate

// Number is number, for the template checks of the external tests: a YAML
// or JSON number read the way Resolve reads parameter bounds.
var Number = number
