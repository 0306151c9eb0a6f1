package engine

// What engine's external tests (package engine_test) may see of the
// package and of its test build; nothing here is part of the API.

// RaceEnabled is whether the tests run under the race detector.
const RaceEnabled = raceEnabled
