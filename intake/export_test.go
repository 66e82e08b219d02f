package intake

// SetParseHook makes the pipeline call f with the raw message before
// each full parse, on the goroutine that parses it.
func (p *Pipeline) SetParseHook(f func(raw []byte)) { p.parseHook = f }
