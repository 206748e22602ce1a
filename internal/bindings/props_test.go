package bindings

import "testing"

func TestProp(t *testing.T) {
	props := map[string]string{"RootPath": "/a", "empty": "", "Route": "/r"}
	tests := []struct {
		names []string
		want  string
		ok    bool
	}{
		{[]string{"rootPath"}, "/a", true},
		{[]string{"ROOTPATH"}, "/a", true},
		{[]string{"empty"}, "", false},
		{[]string{"missing", "rootpath"}, "/a", true},
		{[]string{"missing"}, "", false},
	}
	for _, tt := range tests {
		got, ok := Prop(props, tt.names...)
		if got != tt.want || ok != tt.ok {
			t.Errorf("Prop(%v) = %q, %v; want %q, %v", tt.names, got, ok, tt.want, tt.ok)
		}
	}
}

func TestIsTruthy(t *testing.T) {
	for _, s := range []string{"true", "TRUE", " yes ", "1", "on", "t", "Y"} {
		if !IsTruthy(s) {
			t.Errorf("IsTruthy(%q) = false", s)
		}
	}
	for _, s := range []string{"", "false", "0", "no", "off", "2", "truthy"} {
		if IsTruthy(s) {
			t.Errorf("IsTruthy(%q) = true", s)
		}
	}
}

func TestExplicitInputAndRoute(t *testing.T) {
	tests := []struct {
		props    map[string]string
		explicit bool
		route    string
	}{
		{map[string]string{}, false, "b"},
		{map[string]string{"direction": "input"}, true, "b"},
		{map[string]string{"Direction": "output, Input"}, true, "b"},
		{map[string]string{"direction": "output"}, false, "b"},
		{map[string]string{"route": "/custom"}, false, "/custom"},
	}
	for _, tt := range tests {
		if got := ExplicitInput(tt.props); got != tt.explicit {
			t.Errorf("ExplicitInput(%v) = %v", tt.props, got)
		}
		if got := InputRoute("b", tt.props); got != tt.route {
			t.Errorf("InputRoute(%v) = %q", tt.props, got)
		}
	}
}
