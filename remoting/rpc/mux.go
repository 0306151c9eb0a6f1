package rpc

import (
	"context"
	"strconv"

	"github.com/rmqlog/rmqlog/remoting"
)

// Handler answers one request. It returns the response, or nil for no
// answer. ctx is cancelled when the server closes. The request and its
// Body are the handler's to keep.
type Handler func(ctx context.Context, req *remoting.Command) *remoting.Command

// Mux routes requests to handlers by request code. The map is read, never
// written, by the server: fill it before serving.
type Mux map[remoting.RequestCode]Handler

// Handle runs the handler of req's code, or answers
// REQUEST_CODE_NOT_SUPPORTED with RocketMQ's remark when there is none.
func (m Mux) Handle(ctx context.Context, req *remoting.Command) *remoting.Command {
	if h, ok := m[remoting.RequestCode(req.Code)]; ok {
		return h(ctx, req)
	}
	return NotSupported(req)
}

// NotSupported is the answer to a request nobody serves, with the remark
// RocketMQ's NettyRemotingAbstract.processRequestCommand gives.
func NotSupported(req *remoting.Command) *remoting.Command {
	return remoting.NewResponse(req, remoting.RequestCodeNotSupported,
		" request type "+strconv.Itoa(int(req.Code))+" not supported")
}
